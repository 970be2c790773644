set terminal pngcairo size 960,600 font "sans,10"
set output "/work/main/bench/results/2026-12-03T1759Z/ops.png"
set title "µs per operation, 10000 documents of 500 B, 1 thread(s) (median of the repetitions; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "µs per operation"
set xtics rotate by -20
set key top left
set grid ytics
plot for [i=2:7] "ops-plot.dat" using i:xtic(1) title columnheader(i)
