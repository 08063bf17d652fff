//! `recall.png`: recall@k of mnemo and the baselines as a line chart, drawn with
//! `plotters` into an RGB buffer and encoded with the pure-Rust `png` crate. The text is
//! set in a font compiled into the binary (Hack, from `epaint_default_fonts`), so the plot
//! needs no system library and no font file.

use std::sync::Once;

use anyhow::Context as _;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::RGBColor;
use serde_json::Value;

use crate::report::KS;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 460;
/// The family name the compiled-in font is registered under.
const FONT: &str = "mnemo-plot";

const BLACK: RGBColor = RGBColor(30, 30, 30);
const GRID: RGBColor = RGBColor(225, 225, 225);
/// mnemo, BM25, vector.
const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

/// Registers the compiled-in font once per process (plotters keeps a global font table).
fn register_font() -> anyhow::Result<()> {
    static REGISTER: Once = Once::new();
    let mut failed = false;
    REGISTER.call_once(|| {
        failed = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::HACK_REGULAR,
        )
        .is_err();
    });
    anyhow::ensure!(!failed, "the plot font did not load");
    Ok(())
}

/// A line chart of `series` (name, values at each x) over `x_labels` placed on a log
/// scale, y from 0 to 1.
pub fn line_chart(
    title: &str,
    x_labels: &[usize],
    series: &[(String, Vec<f64>)],
) -> anyhow::Result<Vec<u8>> {
    register_font()?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut pixels, title, x_labels, series).map_err(|e| anyhow::anyhow!("plot: {e}"))?;
    png(&pixels)
}

fn draw(
    pixels: &mut [u8],
    title: &str,
    x_labels: &[usize],
    series: &[(String, Vec<f64>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let first = x_labels.first().copied().unwrap_or(1).max(1) as f64;
    let last = x_labels.last().copied().unwrap_or(1).max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20).into_font().color(&BLACK))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (first..last.max(first + 1.0))
                .log_scale()
                .with_key_points(x_labels.iter().map(|&k| k.max(1) as f64).collect()),
            0.0f64..1.0,
        )?;
    chart
        .configure_mesh()
        .x_labels(x_labels.len())
        .x_label_formatter(&|k| format!("{k:.0}"))
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .x_desc("k (results)")
        .label_style((FONT, 14).into_font().color(&BLACK))
        .axis_desc_style((FONT, 15).into_font().color(&BLACK))
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(BLACK.stroke_width(2))
        .draw()?;
    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = x_labels
            .iter()
            .zip(values)
            .map(|(&k, &v)| (k.max(1) as f64, v.clamp(0.0, 1.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 24, y + 4)], color.filled()));
        chart.draw_series(
            points
                .iter()
                .map(|&point| Circle::new(point, 5, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 14).into_font().color(&BLACK))
        .background_style(WHITE)
        .border_style(GRID)
        .draw()?;
    root.present()?;
    Ok(())
}

fn png(pixels: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("PNG header")?;
    writer.write_image_data(pixels).context("PNG image data")?;
    writer.finish().context("PNG end")?;
    Ok(bytes)
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
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        let has = |color: RGBColor| pixels.chunks(3).any(|p| p == [color.0, color.1, color.2]);
        assert!(has(COLORS[0]) && has(COLORS[1]) && has(BLACK));
        assert!(!has(COLORS[2]), "no third series was drawn");
    }

    #[test]
    fn the_title_is_drawn_in_the_compiled_in_font() {
        let series = vec![("mnemo".to_owned(), vec![0.5; KS.len()])];
        let dark_pixels = |title: &str| {
            let bytes = line_chart(title, &KS, &series).unwrap();
            let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
                .read_info()
                .unwrap();
            let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
            reader.next_frame(&mut pixels).unwrap();
            pixels
                .chunks(3)
                .filter(|p| p.iter().all(|&c| c < 128))
                .count()
        };
        // A longer title darkens more pixels: text is rasterised, not silently skipped.
        assert!(dark_pixels("recall@k of a much longer title") > dark_pixels("r"));
    }
}
