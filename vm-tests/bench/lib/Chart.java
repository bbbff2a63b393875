import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Draws the benchmark's chart.png from chart.csv (panel, contender, median, min, max): one bar panel per
 * headline metric, medians as bars, min..max over the rounds as whiskers. Run as a single-file program
 * (java Chart.java IN.csv OUT.png) with -Djava.awt.headless=true; needs nothing but the JDK.
 */
public final class Chart {
    record Bar(String label, Double median, Double min, Double max) {}

    private static final Map<String, Color> COLORS = Map.ofEntries(
            Map.entry("kloop buf", new Color(0x9ecae1)), Map.entry("kloop dio", new Color(0x3182bd)),
            Map.entry("jublk buf", new Color(0xfdae6b)), Map.entry("jublk dio", new Color(0xe6550d)),
            Map.entry("kublk", new Color(0x31a354)), Map.entry("file", new Color(0x969696)),
            Map.entry("jublk null", new Color(0xe6550d)), Map.entry("kublk null", new Color(0x31a354)),
            Map.entry("null_blk", new Color(0x3182bd)),
            Map.entry("kernel nbd 1c", new Color(0x9ecae1)), Map.entry("kernel nbd 2c", new Color(0x3182bd)),
            Map.entry("jublk nbd 1c", new Color(0xfdae6b)), Map.entry("jublk nbd 2c", new Color(0xe6550d)));

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: java Chart.java chart.csv chart.png");
            System.exit(2);
        }
        Map<String, List<Bar>> panels = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        for (String line : lines.subList(1, lines.size())) {
            List<String> f = parseCsv(line);
            if (f.size() < 5) {
                continue;
            }
            panels.computeIfAbsent(f.get(0), k -> new ArrayList<>())
                    .add(new Bar(f.get(1), num(f.get(2)), num(f.get(3)), num(f.get(4))));
        }
        int cols = 4;
        int rows = Math.max(1, (panels.size() + cols - 1) / cols);
        int pw = 420, ph = 300, top = 50;
        BufferedImage img = new BufferedImage(cols * pw, top + rows * ph, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 20));
        g.drawString("jublk benchmark (QEMU TCG guest): medians, whiskers min..max over the rounds", 16, 32);
        int i = 0;
        for (Map.Entry<String, List<Bar>> e : panels.entrySet()) {
            int x0 = (i % cols) * pw, y0 = top + (i / cols) * ph;
            drawPanel(g, e.getKey(), e.getValue(), x0, y0, pw, ph);
            i++;
        }
        g.dispose();
        ImageIO.write(img, "png", new File(args[1]));
    }

    private static void drawPanel(Graphics2D g, String title, List<Bar> bars, int x0, int y0, int w, int h) {
        int left = x0 + 20, right = x0 + w - 20, top = y0 + 52, bottom = y0 + h - 50;
        g.setColor(new Color(0xf4f4f4));
        g.fillRect(x0 + 6, y0 + 6, w - 12, h - 12);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.drawString(fit(g, title, w - 24), x0 + 14, y0 + 26);
        double max = 0;
        for (Bar b : bars) {
            if (b.median() != null) {
                max = Math.max(max, b.max() != null ? Math.max(b.max(), b.median()) : b.median());
            }
        }
        if (max <= 0) {
            max = 1;
        }
        int n = Math.max(1, bars.size());
        double slot = (right - left) / (double) n;
        int bw = (int) (slot * 0.7);
        g.setColor(Color.GRAY);
        g.drawLine(left, bottom, right, bottom);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        FontMetrics fm = g.getFontMetrics();
        for (int k = 0; k < bars.size(); k++) {
            Bar b = bars.get(k);
            int cx = (int) (left + slot * k + slot / 2);
            g.setColor(Color.DARK_GRAY);
            String lab = b.label();
            g.drawString(lab, cx - fm.stringWidth(lab) / 2, bottom + 16);
            if (b.median() == null) {
                g.drawString("n/a", cx - fm.stringWidth("n/a") / 2, bottom - 6);
                continue;
            }
            int bh = (int) Math.round((bottom - top) * b.median() / max);
            g.setColor(COLORS.getOrDefault(lab, new Color(0x756bb1)));
            g.fillRect(cx - bw / 2, bottom - bh, bw, bh);
            if (b.min() != null && b.max() != null && b.max() > b.min()) {
                int ya = bottom - (int) Math.round((bottom - top) * b.min() / max);
                int yb = bottom - (int) Math.round((bottom - top) * b.max() / max);
                g.setColor(Color.BLACK);
                g.setStroke(new BasicStroke(1.5f));
                g.drawLine(cx, ya, cx, yb);
                g.drawLine(cx - 5, ya, cx + 5, ya);
                g.drawLine(cx - 5, yb, cx + 5, yb);
            }
            g.setColor(Color.BLACK);
            String v = human(b.median());
            // Above the bar and its whisker.
            double high = b.max() != null ? Math.max(b.max(), b.median()) : b.median();
            int yTop = bottom - (int) Math.round((bottom - top) * high / max);
            g.drawString(v, cx - fm.stringWidth(v) / 2, Math.max(top - 4, yTop - 4));
        }
    }

    private static String fit(Graphics2D g, String s, int width) {
        FontMetrics fm = g.getFontMetrics();
        if (fm.stringWidth(s) <= width) {
            return s;
        }
        while (s.length() > 3 && fm.stringWidth(s + "…") > width) {
            s = s.substring(0, s.length() - 1);
        }
        return s + "…";
    }

    private static String human(double v) {
        double a = Math.abs(v);
        if (a >= 1e6) {
            return String.format(Locale.ROOT, "%.2fM", v / 1e6);
        }
        if (a >= 1e4) {
            return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 1) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private static Double num(String s) {
        if (s == null || s.isBlank()) {
            return null;
        }
        try {
            return Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** One CSV line (RFC 4180 quoting, as Python's csv module writes it). */
    private static List<String> parseCsv(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean q = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (q) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cur.append('"');
                    i++;
                } else if (c == '"') {
                    q = false;
                } else {
                    cur.append(c);
                }
            } else if (c == '"') {
                q = true;
            } else if (c == ',') {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }
}
