//! The arena a compiled training step runs in stays within 1.5× the bytes of what training
//! must hold anyway: the parameters and buffers, the optimizer state, and the activations — the
//! step's inputs (a batch of data and labels, the step counter) and every value the training
//! forward graph computes (each op's output but views, as an eager framework materialises
//! them). Gradients, the backward pass's temporaries and the update's are what the memory plan
//! must fit into the rest by reusing space.

use std::path::Path;

use gradc::codegen::CompileOptions;
use gradc::driver;
use gradc::ir::{Class, Graph, InputRole};

/// Bytes of `graph`'s inputs whose role is one of `roles`.
fn input_bytes(graph: &Graph, roles: &[InputRole]) -> usize {
    graph.inputs.iter().filter(|i| roles.contains(&i.role)).map(|i| i.ty.shape.iter().product::<usize>() * 4).sum()
}

/// Bytes of every value `graph` computes, views and leaves aside.
fn computed_bytes(graph: &Graph) -> usize {
    let materialised = |c: Class| match c {
        Class::Elementwise | Class::Reduction | Class::CallOut => true,
        Class::Leaf | Class::View => false,
    };
    graph.nodes.iter().filter(|n| materialised(n.op.class())).map(|n| n.ty.shape.iter().product::<usize>() * 4).sum()
}

/// (arena bytes, parameters + buffers, optimizer state, activations) of the program in `file`.
fn footprint(file: &Path) -> (usize, usize, usize, usize) {
    let mut front = driver::parse(file).unwrap_or_else(|(d, _)| panic!("{}", d.render_plain()));
    let c = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let exe = driver::jit(&c.optimized, &CompileOptions::default()).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let step = &c.optimized;
    let params = input_bytes(step, &[InputRole::Param, InputRole::Buffer]);
    let state = input_bytes(step, &[InputRole::State]);
    let activations =
        input_bytes(step, &[InputRole::Data, InputRole::Label, InputRole::Step]) + computed_bytes(&c.lowered.forward);
    (exe.stats().arena_bytes, params, state, activations)
}

#[test]
fn the_arena_is_within_one_and_a_half_times_parameters_state_and_activations() {
    for file in
        ["benches/mlp_784_128_10.grad", "benches/cnn_small.grad", "examples/spiral_mlp.grad", "examples/mnist_cnn.grad"]
    {
        let (arena, params, state, activations) = footprint(Path::new(file));
        let sum = params + state + activations;
        println!("{file}: arena {arena} B, params {params} + state {state} + activations {activations} = {sum} B, ratio {:.3}", arena as f64 / sum as f64);
        assert!(arena * 2 <= sum * 3, "{file}: arena {arena} B > 1.5 × {sum} B");
    }
}
