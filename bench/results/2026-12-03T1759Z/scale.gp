set terminal pngcairo size 960,600 font "sans,10"
set output "/work/main/bench/results/2026-12-03T1759Z/scale.png"
set multiplot layout 2,2 title "swarmfs as resources grow (median of the repetitions)"
set logscale x
set grid
set key top left
set xlabel "resources"
set logscale y
set title "ls -l after mount + drop_caches, s"
plot "scale-plot.dat" using 1:2 with linespoints title "swarmfs", "" using 1:3 with linespoints title "bare FUSE passthrough"
set title "daemon peak RSS, MB"
plot "scale-plot.dat" using 1:4 with linespoints title "swarmfs", "" using 1:5 with linespoints title "passthrough", 64 with lines dt 2 title "64 MB target"
unset logscale y
set yrange [0:*]
set title "durable writes/s into a store of that size (1 writer)"
plot "scale-plot.dat" using 1:6 with linespoints title "swarmfs"
set logscale y
set yrange [*:*]
set title "store size on disk, MB"
plot "scale-plot.dat" using 1:7 with linespoints title "swarmfs data dir"
unset multiplot
