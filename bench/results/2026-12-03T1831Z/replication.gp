set terminal pngcairo size 960,600 font "sans,10"
set output "/work/main/bench/results/2026-12-03T1831Z/replication.png"
set title "write on one node -> visible on a peer, ms (median of the repetitions; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "ms"
set grid ytics
set key top left
plot "repl-plot.dat" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "max"
