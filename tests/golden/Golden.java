import org.HdrHistogram.*;
import java.io.*;
public class Golden {
  public static void main(String[] a) throws Exception {
    if (a[0].equals("hgrm")) {
      Histogram h = new Histogram(3);
      for (long i = 1; i <= 10000; i++) h.recordValue((i * i * 37) % 250000 + 1);
      h.outputPercentileDistribution(System.out, 1000.0);
    } else {
      HistogramLogReader r = new HistogramLogReader(a[1]);
      java.util.Map<String, Long> counts = new java.util.TreeMap<>();
      java.util.Map<String, Double> maxes = new java.util.TreeMap<>();
      EncodableHistogram e;
      while ((e = r.nextIntervalHistogram()) != null) {
        Histogram h = (Histogram) e;
        counts.merge(h.getTag(), h.getTotalCount(), Long::sum);
        maxes.merge(h.getTag(), h.getMaxValue() / 1e6, Math::max);
      }
      for (String k : counts.keySet()) System.out.println(k + " " + counts.get(k) + " " + maxes.get(k));
    }
  }
}
