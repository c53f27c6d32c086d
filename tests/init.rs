//! `torch_default`: the distribution of nn.Linear's and nn.Conv2d's default weights and biases,
//! each uniform in ±1/√fan_in, with the bias taking its layer's weight's fan-in.

mod common;

use common::{gradc, temp_dir};
use safetensors::SafeTensors;

#[test]
fn torch_default_draws_within_torch_bounds() {
    let dir = temp_dir("torch_default");
    let src = "use std.nn.{dense, conv2d}\nuse std.loss.mse\ndata d = linear(n: 8, dim: 50)\n\
               model m(x: f32[B, 50]) -> f32[B, 1] {\n\
                   c = conv2d(reshape(x, [B, 2, 5, 5]), 400, 3, init: torch_default, bias: torch_default)\n\
                   h = dense(flatten(c), 300, init: torch_default, bias: torch_default)\n    dense(h, 1)\n}\n\
               loss(x, y) = mse(m(x), y)\ntrain { data = d, optimizer = sgd(lr: 0.1), steps = 1 }\n";
    std::fs::write(dir.join("m.grad"), src).unwrap();
    let saved = dir.join("w.safetensors");
    let out = gradc(&["run", dir.join("m.grad").to_str().unwrap(), "--steps", "0", "--save", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&saved).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let values = |name: &str| -> Vec<f64> {
        let t = file.tensor(name).unwrap();
        t.data().chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect()
    };
    // conv: fan-in 2·3·3 = 18; dense: 400 channels · 3 · 3 positions = 3600.
    for (name, fan_in) in [("c.w", 18.0), ("c.b", 18.0), ("h.w", 3600.0), ("h.b", 3600.0)] {
        let v = values(name);
        let bound = 1.0 / f64::sqrt(fan_in);
        let max = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let std = (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
        assert!(max <= bound, "{name}: |value| {max} beyond the bound {bound}");
        // A uniform in ±bound has standard deviation bound/√3; n ≥ 300 samples pin it to ~10%.
        let want = bound / 3f64.sqrt();
        assert!((std - want).abs() < 0.15 * want, "{name}: std {std}, expected {want}");
    }
}
