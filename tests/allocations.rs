//! A training step allocates nothing after the first: the compiled step of a CNN without a
//! matrix product (direct convolution kernels, pooling, their two-thread split, elementwise
//! and reduction kernels, Adam) runs many times under a counting global allocator, at one and
//! two threads. (Matrix products go to the `gemm` crate, which allocates its packing buffers
//! on every call.)

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
    let file = dir.path().join("cnn.grad");
    std::fs::write(&file, CNN).expect("writing the program");
    for threads in [1, 2] {
        assert_eq!(allocations_after_the_first_step(&file, threads), 0, "at {threads} threads");
    }
}
