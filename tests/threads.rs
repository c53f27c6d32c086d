//! A run gives the same bytes at one thread and at two when its products and updates are
//! split between the threads.

mod common;

use common::{gradc, temp_dir};

/// mlp-small's shapes: at two threads its dW1 (784×128×64, 6.4M multiply-adds) and its Adam
/// update of the 100,352 first-layer weights run in halves (`codegen::matmul`'s and
/// `codegen::lower::halves`'s thresholds), on shuffled random rows with a short last batch.
const MLP: &str = "use std.nn.{dense, relu}
use std.loss.cross_entropy
data d = random(n: 200, dim: 784, classes: 10, seed: 3)
model mlp(x: f32[B, 784]) -> f32[B, 10] {
    h = relu(dense(x, 128, init: he_normal))
    dense(h, 10)
}
loss(x, y) = cross_entropy(mlp(x), y)
train { data = d, batch = 64, epochs = 4, optimizer = adam(lr: 0.001), seed = 1 }
";

#[test]
fn an_mlp_trains_to_the_same_bytes_on_one_thread_and_two() {
    let dir = temp_dir("threads_mlp");
    let program = dir.join("mlp.grad");
    std::fs::write(&program, MLP).expect("write the program");
    let run = |threads: &str| {
        let (log, save) = (dir.join(format!("{threads}.jsonl")), dir.join(format!("{threads}.safetensors")));
        let (log_s, save_s) = (log.to_str().expect("utf-8"), save.to_str().expect("utf-8"));
        let args =
            ["run", program.to_str().expect("utf-8"), "-q", "--threads", threads, "--log", log_s, "--save", save_s];
        let out = gradc(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (std::fs::read(log).expect("the log"), std::fs::read(save).expect("the checkpoint"))
    };
    let (one, two) = (run("1"), run("2"));
    assert!(one.0 == two.0, "the logs differ");
    assert!(one.1 == two.1, "the checkpoints differ");
}
