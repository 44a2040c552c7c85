// What Bio-Formats reads from files: run as a Java 17 source file (no build step),
//   java -cp bioformats_package.jar BfDump.java IN.ome.tif OUT.raw [IN2 OUT2 ...]
// prints one JSON object per series (sizes, dimension order, Modulo Z/C/T, channel names,
// physical sizes) and writes every plane's bytes, in Bio-Formats' plane order, to OUT.raw
// (series after series); a file Bio-Formats cannot read prints {"file": ..., "error": ...}.
// test_bioformats.py and benchmarks/check_bioformats.py compare both with what was written.
import java.io.FileOutputStream;
import java.io.OutputStream;
import loci.common.DebugTools;
import loci.formats.ImageReader;
import loci.formats.MetadataTools;
import loci.formats.Modulo;
import loci.formats.meta.IMetadata;
import ome.units.quantity.Length;

public class BfDump {
  static String q(String s) {
    if (s == null) return "null";
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  static String modulo(Modulo m) {
    StringBuilder b = new StringBuilder("{");
    b.append("\"length\":").append(m.length());
    b.append(",\"type\":").append(q(m.type));
    b.append(",\"typeDescription\":").append(q(m.typeDescription));
    b.append(",\"unit\":").append(q(m.unit));
    b.append(",\"start\":").append(m.start);
    b.append(",\"step\":").append(m.step);
    b.append(",\"end\":").append(m.end);
    b.append(",\"labels\":[");
    if (m.labels != null) {
      for (int i = 0; i < m.labels.length; i++) b.append(i > 0 ? "," : "").append(q(m.labels[i]));
    }
    return b.append("]}").toString();
  }

  static String length(Length v) {
    if (v == null) return "null";
    return "[" + v.value().doubleValue() + "," + q(v.unit().getSymbol()) + "]";
  }

  public static void main(String[] args) throws Exception {
    DebugTools.setRootLevel("ERROR");
    for (int k = 0; k + 1 < args.length; k += 2) {
      try {
        dump(args[k], args[k + 1]);
      } catch (Exception e) {
        System.out.println("{\"file\":" + q(args[k]) + ",\"error\":" + q(e.toString()) + "}");
      }
    }
  }

  static void dump(String in, String raw) throws Exception {
    ImageReader r = new ImageReader();
    IMetadata meta = MetadataTools.createOMEXMLMetadata();
    r.setMetadataStore(meta);
    r.setId(in);
    try (OutputStream out = new FileOutputStream(raw)) {
      for (int s = 0; s < r.getSeriesCount(); s++) {
        r.setSeries(s);
        StringBuilder b = new StringBuilder("{");
        b.append("\"file\":").append(q(in));
        b.append(",\"format\":").append(q(r.getFormat()));
        b.append(",\"series\":").append(s);
        b.append(",\"sizeX\":").append(r.getSizeX()).append(",\"sizeY\":").append(r.getSizeY());
        b.append(",\"sizeZ\":").append(r.getSizeZ()).append(",\"sizeC\":").append(r.getSizeC());
        b.append(",\"sizeT\":").append(r.getSizeT());
        b.append(",\"imageCount\":").append(r.getImageCount());
        b.append(",\"pixelType\":").append(q(loci.formats.FormatTools.getPixelTypeString(r.getPixelType())));
        b.append(",\"dimensionOrder\":").append(q(r.getDimensionOrder()));
        b.append(",\"moduloZ\":").append(modulo(r.getModuloZ()));
        b.append(",\"moduloC\":").append(modulo(r.getModuloC()));
        b.append(",\"moduloT\":").append(modulo(r.getModuloT()));
        b.append(",\"channels\":[");
        for (int c = 0; c < meta.getChannelCount(s); c++) {
          b.append(c > 0 ? "," : "").append(q(meta.getChannelName(s, c)));
        }
        b.append("],\"physicalSizeX\":").append(length(meta.getPixelsPhysicalSizeX(s)));
        b.append(",\"physicalSizeY\":").append(length(meta.getPixelsPhysicalSizeY(s)));
        b.append(",\"physicalSizeZ\":").append(length(meta.getPixelsPhysicalSizeZ(s)));
        b.append(",\"zct\":[");
        for (int i = 0; i < r.getImageCount(); i++) {
          int[] zct = r.getZCTCoords(i);
          b.append(i > 0 ? "," : "").append("[" + zct[0] + "," + zct[1] + "," + zct[2] + "]");
          out.write(r.openBytes(i));
        }
        System.out.println(b.append("]}"));
      }
    } finally {
      r.close();
    }
  }
}
