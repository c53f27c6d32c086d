//! Snapshots of every pipeline stage for every example: the text `gradc ir --stage ...` prints.

use std::path::Path;

use gradc::codegen::CompileOptions;
use gradc::driver;

#[test]
fn every_stage_of_every_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("cd to the repository");
    insta::glob!("../examples", "*.grad", |path| {
        let rel = path.strip_prefix(root).expect("example inside the repository");
        let mut front = driver::parse(rel).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
        insta::assert_snapshot!("ast", gradc::syntax::print::print(&front.ast));
        let c =
            driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
        let forward = gradc::ir::print::print(&c.lowered.forward);
        insta::assert_snapshot!("forward", forward);
        // The evaluation graph differs only where the model has batch norm or dropout; the
        // others must print the training forward graph under the name `eval`.
        let eval = gradc::ir::print::print(&driver::eval_graph(&c).expect("evaluation graph"));
        if eval.replacen("graph eval(", "graph forward(", 1) == forward {
            assert!(!forward.contains("rand[") && !forward.contains(" buffer,"), "{forward}");
        } else {
            insta::assert_snapshot!("eval", eval);
        }
        // What `gradc ir --stage backward` prints (simplified), and with `--raw`.
        let backward = |raw| gradc::snapshot::stage_text(&front, &c, gradc::snapshot::Stage::Backward, raw);
        insta::assert_snapshot!("backward", backward(false).expect("prints"));
        insta::assert_snapshot!("backward_raw", backward(true).expect("prints"));
        insta::assert_snapshot!("update", gradc::ir::print::print(&c.lowered.update));
        insta::assert_snapshot!("optimized", gradc::ir::print::print(&c.optimized));
        let opts = CompileOptions { verify: true, keep_clif: true, threads: 1, flush_denormals: false };
        let exe = driver::jit(&c.optimized, &opts).expect("compiles");
        insta::assert_snapshot!("kernels", exe.kernels());
        insta::assert_snapshot!("clif", exe.clif().expect("kept CLIF"));
    });
}
