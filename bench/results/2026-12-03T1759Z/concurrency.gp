set terminal pngcairo size 960,600 font "sans,10"
set output "/work/main/bench/results/2026-12-03T1759Z/concurrency.png"
set title "durable writes/s with concurrent writers (group commit): median of the repetitions"
set xlabel "concurrent writers"
set ylabel "committed writes/s"
set logscale x 2
set grid
set key top left
set yrange [0:*]
plot "conc-plot.dat" using 1:2 with linespoints lw 2 title "swarmfs (close() returned)", \
     "" using 1:3 with linespoints title "raw SQLite, connection per writer", \
     "" using 1:4 with lines dt 2 title "swarmfs 1 writer (no group commit: N writers = N x its cost)", \
     "" using 1:5 with lines dt 3 title "1 / fdatasync on this disk"
