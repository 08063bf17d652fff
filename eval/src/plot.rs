//! `recall.png`: recall@k of mnemo and the baselines as a line chart, drawn pixel by pixel
//! with a built-in 5×7 bitmap font and encoded with the pure-Rust `png` crate, so the plot
//! needs no system library and no font file.

use anyhow::Context as _;
use serde_json::Value;

use crate::report::KS;

const WIDTH: usize = 760;
const HEIGHT: usize = 460;
const LEFT: usize = 80;
const RIGHT: usize = 30;
const TOP: usize = 60;
const BOTTOM: usize = 70;
/// Glyph pixels are drawn as squares of this side.
const SCALE: usize = 2;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [30, 30, 30];
const GRID: [u8; 3] = [225, 225, 225];
/// mnemo, BM25, vector.
const COLORS: [[u8; 3]; 3] = [[31, 119, 180], [255, 127, 14], [44, 160, 44]];

/// An RGB canvas.
struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            pixels: WHITE.repeat(WIDTH * HEIGHT),
        }
    }

    fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let at = (y as usize * WIDTH + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&color);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        for dy in 0..h {
            for dx in 0..w {
                self.set(x + dx, y + dy, color);
            }
        }
    }

    /// A line `width` pixels thick (Bresenham, each point a square brush).
    fn line(&mut self, from: (i64, i64), to: (i64, i64), width: i64, color: [u8; 3]) {
        let (mut x, mut y) = from;
        let (dx, dy) = ((to.0 - x).abs(), -(to.1 - y).abs());
        let (sx, sy) = (if x < to.0 { 1 } else { -1 }, if y < to.1 { 1 } else { -1 });
        let mut err = dx + dy;
        let half = width / 2;
        loop {
            self.rect(x - half, y - half, width, width, color);
            if (x, y) == to {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text in upper case, its top-left corner at (x, y).
    fn text(&mut self, x: i64, y: i64, text: &str, color: [u8; 3]) {
        let step = (6 * SCALE) as i64;
        for (i, c) in text.chars().enumerate() {
            let rows = glyph(c.to_ascii_uppercase());
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0b10000 >> col) != 0 {
                        self.rect(
                            x + i as i64 * step + (col * SCALE) as i64,
                            y + (row * SCALE) as i64,
                            SCALE as i64,
                            SCALE as i64,
                            color,
                        );
                    }
                }
            }
        }
    }

    fn png(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, WIDTH as u32, HEIGHT as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("PNG header")?;
        writer
            .write_image_data(&self.pixels)
            .context("PNG image data")?;
        writer.finish().context("PNG end")?;
        Ok(bytes)
    }
}

/// Width in pixels of `text` as [`Canvas::text`] draws it.
fn text_width(text: &str) -> i64 {
    (text.chars().count() * 6 * SCALE) as i64
}

/// A line chart of `series` (name, values at each x) over `x_labels` placed on a log
/// scale, y from 0 to 1.
pub fn line_chart(
    title: &str,
    x_labels: &[usize],
    series: &[(String, Vec<f64>)],
) -> anyhow::Result<Vec<u8>> {
    let mut canvas = Canvas::new();
    let (plot_w, plot_h) = (
        (WIDTH - LEFT - RIGHT) as f64,
        (HEIGHT - TOP - BOTTOM) as f64,
    );
    let first = x_labels.first().copied().unwrap_or(1).max(1) as f64;
    let last = x_labels.last().copied().unwrap_or(1).max(1) as f64;
    let span = (last.ln() - first.ln()).max(f64::EPSILON);
    let px =
        |k: usize| LEFT as i64 + (((k.max(1) as f64).ln() - first.ln()) / span * plot_w) as i64;
    let py = |v: f64| TOP as i64 + ((1.0 - v.clamp(0.0, 1.0)) * plot_h) as i64;

    canvas.text((WIDTH as i64 - text_width(title)) / 2, 18, title, BLACK);
    for tick in 0..=5 {
        let v = f64::from(tick) / 5.0;
        let y = py(v);
        canvas.line((LEFT as i64, y), ((WIDTH - RIGHT) as i64, y), 1, GRID);
        let label = format!("{v:.1}");
        canvas.text(LEFT as i64 - text_width(&label) - 10, y - 7, &label, BLACK);
    }
    for &k in x_labels {
        let x = px(k);
        canvas.line((x, TOP as i64), (x, (HEIGHT - BOTTOM) as i64), 1, GRID);
        let label = k.to_string();
        canvas.text(
            x - text_width(&label) / 2,
            (HEIGHT - BOTTOM) as i64 + 10,
            &label,
            BLACK,
        );
    }
    let axis_bottom = (HEIGHT - BOTTOM) as i64;
    canvas.line(
        (LEFT as i64, TOP as i64),
        (LEFT as i64, axis_bottom),
        2,
        BLACK,
    );
    canvas.line(
        (LEFT as i64, axis_bottom),
        ((WIDTH - RIGHT) as i64, axis_bottom),
        2,
        BLACK,
    );
    let x_title = "K (RESULTS)";
    canvas.text(
        (WIDTH as i64 - text_width(x_title)) / 2,
        (HEIGHT - BOTTOM) as i64 + 36,
        x_title,
        BLACK,
    );

    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(i64, i64)> = x_labels
            .iter()
            .zip(values)
            .map(|(&k, &v)| (px(k), py(v)))
            .collect();
        for pair in points.windows(2) {
            canvas.line(pair[0], pair[1], 3, color);
        }
        for &(x, y) in &points {
            canvas.rect(x - 4, y - 4, 9, 9, color);
        }
        // Legend, top left inside the plot.
        let (lx, ly) = (LEFT as i64 + 20, TOP as i64 + 14 + i as i64 * 24);
        canvas.rect(lx, ly + 2, 24, 8, color);
        canvas.text(lx + 34, ly, name, BLACK);
    }
    canvas.png()
}

/// The recall@k chart of a LOCOMO report (categories 1-4).
pub fn recall_png(report: &Value) -> anyhow::Result<Vec<u8>> {
    let values = |block: &Value| -> Vec<f64> {
        KS.iter()
            .map(|k| block[format!("recall@{k}")].as_f64().unwrap_or(0.0))
            .collect()
    };
    let series = vec![
        ("mnemo".to_owned(), values(&report["overall_1_4"])),
        (
            "BM25".to_owned(),
            values(&report["baselines"]["bm25"]["overall_1_4"]),
        ),
        (
            "vector".to_owned(),
            values(&report["baselines"]["vector"]["overall_1_4"]),
        ),
    ];
    let title = format!(
        "LOCOMO recall@k, categories 1-4, mode {}",
        report["mode"].as_str().unwrap_or("?")
    );
    line_chart(&title, &KS, &series)
}

/// Rows of a 5×7 glyph, bit 4 the leftmost pixel; unknown characters are a box.
fn glyph(c: char) -> [u8; 7] {
    match c {
        ' ' => [0; 7],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '@' => [0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_a_png_of_the_expected_size_with_the_series_colours() {
        let series = vec![
            ("mnemo".to_owned(), vec![0.3, 0.6, 0.75, 0.8, 0.9]),
            ("BM25".to_owned(), vec![0.2, 0.5, 0.6, 0.65, 0.7]),
        ];
        let bytes = line_chart("recall@k", &KS, &series).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (WIDTH as u32, HEIGHT as u32));
        let has = |color: [u8; 3]| pixels.chunks(3).any(|p| p == color);
        assert!(has(COLORS[0]) && has(COLORS[1]) && has(BLACK));
        assert!(!has(COLORS[2]), "no third series was drawn");
    }

    #[test]
    fn every_character_the_charts_use_has_a_glyph() {
        let boxed = glyph('\u{1}');
        for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:@-_=/()%".chars() {
            assert_ne!(glyph(c), boxed, "{c}");
        }
    }
}
