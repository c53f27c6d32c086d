//! A small offline image data set in the MNIST layout: 28×28 grey images of ten digit-like
//! glyphs, each drawn as strokes with a random shear, scale, shift, stroke width and jitter of
//! its points, and a few speckles of noise. The files under `examples/data/glyphs-*` are made
//! by [`write_example_files`]; a test checks they still match.
//!
//! Only arithmetic and square roots (exact in IEEE 754) shape the pixels, so the bytes are the
//! same on every machine.

use std::path::Path;

use super::idx::{gzip, write_u8};
use crate::rng::Rng;

/// Image side in pixels.
pub const SIDE: usize = 28;

/// Each class's strokes: polylines of points in a unit box (x right, y down).
const GLYPHS: [&[&[(f64, f64)]]; 10] = [
    &[&[(0.5, 0.1), (0.78, 0.25), (0.8, 0.75), (0.5, 0.9), (0.22, 0.75), (0.2, 0.25), (0.5, 0.1)]],
    &[&[(0.32, 0.28), (0.52, 0.1), (0.52, 0.9)]],
    &[&[(0.2, 0.25), (0.5, 0.1), (0.8, 0.28), (0.2, 0.9), (0.82, 0.9)]],
    &[&[(0.2, 0.12), (0.8, 0.12), (0.48, 0.45), (0.8, 0.68), (0.55, 0.9), (0.2, 0.84)]],
    &[&[(0.65, 0.9), (0.65, 0.1), (0.18, 0.65), (0.85, 0.65)]],
    &[&[(0.8, 0.1), (0.25, 0.1), (0.2, 0.45), (0.68, 0.43), (0.8, 0.68), (0.6, 0.9), (0.2, 0.88)]],
    &[&[(0.72, 0.1), (0.3, 0.4), (0.2, 0.75), (0.42, 0.9), (0.72, 0.85), (0.76, 0.6), (0.5, 0.5), (0.24, 0.62)]],
    &[&[(0.18, 0.1), (0.82, 0.1), (0.4, 0.9)], &[(0.35, 0.5), (0.72, 0.5)]],
    &[
        &[(0.5, 0.1), (0.76, 0.27), (0.5, 0.48), (0.24, 0.27), (0.5, 0.1)],
        &[(0.5, 0.48), (0.8, 0.7), (0.5, 0.9), (0.2, 0.7), (0.5, 0.48)],
    ],
    &[&[(0.76, 0.38), (0.5, 0.5), (0.24, 0.34), (0.42, 0.1), (0.72, 0.14), (0.76, 0.38), (0.62, 0.9)]],
];

/// `n` images, `[n, 28, 28]` bytes row-major, and their labels (`i % 10` for image `i`).
pub fn glyphs(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let mut images = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % GLYPHS.len();
        images.extend(draw(GLYPHS[class], &mut rng));
        labels.push(class as u8);
    }
    (images, labels)
}

/// One image of the glyph `strokes`.
fn draw(strokes: &[&[(f64, f64)]], rng: &mut Rng) -> Vec<u8> {
    // The unit box maps to about 20×20 pixels in the middle, as MNIST's digits do.
    let (sx, sy) = (20.0 * rng.uniform_range(0.8, 1.1), 20.0 * rng.uniform_range(0.85, 1.1));
    let shear = rng.uniform_range(-0.3, 0.3);
    let (dx, dy) = (14.0 + rng.uniform_range(-2.0, 2.0), 14.0 + rng.uniform_range(-2.0, 2.0));
    let width = rng.uniform_range(0.9, 1.7);
    let segments: Vec<((f64, f64), (f64, f64))> = strokes
        .iter()
        .flat_map(|line| {
            let points: Vec<(f64, f64)> = line
                .iter()
                .map(|&(x, y)| {
                    let (x, y) = (x - 0.5 + rng.uniform_range(-0.04, 0.04), y - 0.5 + rng.uniform_range(-0.04, 0.04));
                    (dx + sx * (x + shear * y), dy + sy * y)
                })
                .collect();
            points.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()
        })
        .collect();
    let mut image = vec![0u8; SIDE * SIDE];
    for (k, px) in image.iter_mut().enumerate() {
        let p = ((k % SIDE) as f64 + 0.5, (k / SIDE) as f64 + 0.5);
        let d = segments.iter().map(|&(a, b)| distance(p, a, b)).fold(f64::INFINITY, f64::min);
        *px = level(width + 0.5 - d);
    }
    // A few speckles of noise.
    for _ in 0..rng.below(10) {
        let k = rng.below((SIDE * SIDE) as u64) as usize;
        image[k] = level(rng.uniform());
    }
    image
}

/// A coverage in [0, 1] (clamped) as one of 16 grey levels, 0 to 255.
fn level(coverage: f64) -> u8 {
    (coverage.clamp(0.0, 1.0) * 15.0).round() as u8 * 17
}

/// The distance from `p` to the segment `a`–`b`.
fn distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let len2 = vx * vx + vy * vy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * vx + (p.1 - a.1) * vy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (ex, ey) = (a.0 + t * vx - p.0, a.1 + t * vy - p.1);
    (ex * ex + ey * ey).sqrt()
}

/// The example files: a training and a test split, as (file name, uncompressed IDX bytes).
pub fn example_files() -> Vec<(&'static str, Vec<u8>)> {
    let (train_x, train_y) = glyphs(2000, 1);
    let (test_x, test_y) = glyphs(500, 2);
    vec![
        ("glyphs-train-images-idx3-ubyte.gz", write_u8(&[2000, SIDE, SIDE], &train_x)),
        ("glyphs-train-labels-idx1-ubyte.gz", write_u8(&[2000], &train_y)),
        ("glyphs-test-images-idx3-ubyte.gz", write_u8(&[500, SIDE, SIDE], &test_x)),
        ("glyphs-test-labels-idx1-ubyte.gz", write_u8(&[500], &test_y)),
    ]
}

/// Writes the example files, gzipped, into `dir`.
pub fn write_example_files(dir: &Path) -> std::io::Result<()> {
    for (name, bytes) in example_files() {
        std::fs::write(dir.join(name), gzip(&bytes))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::tests::span;
    use crate::data::idx::load_idx;
    use crate::data::Labels;
    use std::io::Read;

    fn dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data")
    }

    /// The committed files still hold what the generator makes, byte for byte once unzipped
    /// (gzip's own bytes may differ between compressor versions), and load as 10 classes.
    /// `GRADC_REGENERATE=1 cargo test --lib example_glyphs` rewrites them first.
    #[test]
    fn example_glyphs_are_current() {
        if std::env::var_os("GRADC_REGENERATE").is_some() {
            write_example_files(&dir()).expect("write examples/data/glyphs-*");
        }
        for (name, want) in example_files() {
            let committed = std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("examples/data/{name}: {e}"));
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&committed[..]).read_to_end(&mut plain).expect("gzipped");
            assert!(plain == want, "examples/data/{name} is stale; regenerate it with GRADC_REGENERATE=1");
        }
        let (x, y) = (dir().join(example_files()[0].0), dir().join(example_files()[1].0));
        let ds = load_idx(&x, &y, span()).unwrap();
        assert_eq!((ds.n, ds.shape.clone()), (2000, vec![1, 28, 28]));
        assert!(matches!(ds.labels, Labels::Classes { classes: 10, .. }));
    }

    #[test]
    fn glyphs_are_deterministic_balanced_and_drawn() {
        let (x, y) = glyphs(30, 7);
        assert_eq!((x.len(), y.len()), (30 * 784, 30));
        assert_eq!(glyphs(30, 7), (x.clone(), y.clone()));
        assert_ne!(glyphs(30, 8).0, x);
        assert!((0..10).all(|c| y.iter().filter(|&&l| l == c).count() == 3));
        for image in x.chunks_exact(784) {
            let ink = image.iter().filter(|&&p| p > 128).count();
            assert!((25..400).contains(&ink), "{ink} dark pixels");
            // Strokes stay inside the frame.
            assert!(image[..28].iter().chain(&image[756..]).filter(|&&p| p > 128).count() <= 2);
        }
    }
}
