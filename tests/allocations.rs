//! A training step allocates nothing after the first, at one and two threads, under a counting
//! global allocator: a CNN without a matrix product (direct convolution kernels, pooling, their
//! two-thread split, elementwise and reduction kernels, Adam), and an MLP whose products go to
//! gemm (split in halves at two threads) and whose convolution goes through im2col. gemm keeps
//! its packing buffers per thread between calls (vendor/gemm-common), so only the first step
//! allocates them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use gradc::codegen::CompileOptions;
use gradc::driver;

/// The system allocator, counting allocations and reallocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// cnn-small's convolutions and pools (the second with 10 channels), global average pooling
/// instead of the dense layer.
const CNN: &str = "use std.nn.{conv2d, relu, global_avg_pool}
use std.loss.cross_entropy
data d = random(n: 64, dim: 784, classes: 10, seed: 1)
model cnn(x: f32[B, 784]) -> f32[B, 10] {
    img = reshape(x, [B, 1, 28, 28])
    h1 = max_pool2d(relu(conv2d(img, 8, 3, padding: same, init: he_normal)), 2)
    h2 = max_pool2d(relu(conv2d(h1, 10, 3, padding: same, init: he_normal)), 2)
    global_avg_pool(h2)
}
loss(x, y) = cross_entropy(cnn(x), y)
train { data = d, batch = 64, steps = 10, optimizer = adam(lr: 0.001), seed = 1 }
";

/// Products on both paths: a 784-512-512-10 MLP at batch 128 (its 512×512 products split in
/// halves at two threads), and beside it a 24-channel convolution (im2col) pooled to a second
/// dense layer, with momentum SGD.
const MLP: &str = "use std.nn.{conv2d, dense, relu, global_avg_pool}
use std.loss.cross_entropy
data d = random(n: 128, dim: 784, classes: 10, seed: 2)
model mlp(x: f32[B, 784]) -> f32[B, 10] {
    img = reshape(x, [B, 1, 28, 28])
    c = global_avg_pool(relu(conv2d(img, 24, 3, padding: same, init: he_normal)))
    h1 = relu(dense(x, 512, init: he_normal))
    h2 = relu(dense(h1, 512, init: he_normal))
    dense(h2, 10, init: he_normal) + dense(c, 10, init: he_normal)
}
loss(x, y) = cross_entropy(mlp(x), y)
train { data = d, batch = 128, steps = 10, optimizer = sgd(lr: 0.01, momentum: 0.9), seed = 1 }
";

/// Allocations made by steps 2 to 11 of the program in `file`: compiled training step at `threads`.
fn allocations_after_the_first_step(file: &Path, threads: usize) -> usize {
    let mut front = driver::parse(file).unwrap_or_else(|(d, _)| panic!("{}", d.render_plain()));
    let compiled = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let opts = CompileOptions { verify: false, keep_clif: false, threads, flush_denormals: false };
    let mut exe = driver::jit(&compiled.optimized, &opts).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    exe.run();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..10 {
        exe.run();
    }
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// One test, so no other test's allocations run concurrently with the counted steps.
#[test]
fn training_steps_allocate_nothing_after_the_first() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, program) in [("cnn", CNN), ("mlp", MLP)] {
        let file = dir.path().join(format!("{name}.grad"));
        std::fs::write(&file, program).expect("writing the program");
        for threads in [1, 2] {
            assert_eq!(allocations_after_the_first_step(&file, threads), 0, "{name} at {threads} threads");
        }
    }
}
