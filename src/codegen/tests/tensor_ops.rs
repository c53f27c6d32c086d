//! JIT against the interpreter for casts, layout ops (permute, slice, concat) and gather.

use super::*;

/// Casts at every width, alone and fused with f32 arithmetic.
mod casts {
    use super::*;

    #[test]
    fn f32_to_i32_truncates_toward_zero() {
        for shape in SHAPES {
            let mut g = Graph::new("to_i32");
            let x = f32_input(&mut g, "x", shape);
            let y = push(&mut g, Op::Cast(DType::I32), &[x]);
            g.add_output("y", y, OutputRole::Metric);
            check_range(&g, (-9.0, 9.0));
        }
    }

    #[test]
    fn i32_to_f32_and_back() {
        for shape in SHAPES {
            let mut g = Graph::new("to_f32");
            let l = g.add_input("l", Type::new(DType::I32, shape.to_vec()), InputRole::Label);
            let x = f32_input(&mut g, "x", shape);
            let f = push(&mut g, Op::Cast(DType::F32), &[l]);
            let y = push(&mut g, Op::Binary(BinOp::Mul), &[f, x]);
            g.add_output("y", y, OutputRole::Metric);
            let back = push(&mut g, Op::Cast(DType::I32), &[f]);
            let eq = push(&mut g, Op::Binary(BinOp::Eq), &[back, l]);
            g.add_output("eq", eq, OutputRole::Metric);
            check(&g);
        }
    }

    #[test]
    fn special_values_saturate_and_nan_is_zero() {
        let specials = [
            0.0,
            -0.0,
            0.7,
            -0.7,
            2.5,
            -2.5,
            -3.999,
            1e10,
            -1e10,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            2147483520.0,
        ];
        let n = specials.len();
        for lanes in [n, 1] {
            let mut g = Graph::new("specials");
            let x = f32_input(&mut g, "x", &[lanes]);
            let y = push(&mut g, Op::Cast(DType::I32), &[x]);
            g.add_output("y", y, OutputRole::Metric);
            for chunk in specials.chunks(lanes) {
                let t = Tensor::new(vec![lanes], chunk.iter().map(|&v| f64::from(v)).collect());
                let exe = check_with(&g, &[t]);
                let want: Vec<i32> = chunk.iter().map(|&v| v as i32).collect();
                assert_eq!(exe.output_i32("y").expect("i32 output"), want.as_slice());
            }
        }
    }
}

/// Permutations: strided loads inside fused loops, materialised where GEMM or a reshape needs
/// contiguous data.
mod permute {
    use super::*;

    const CASES: [(&[usize], &[usize]); 6] = [
        (&[3, 5], &[1, 0]),
        (&[1, 5], &[1, 0]),
        (&[3, 5, 7], &[2, 0, 1]),
        (&[1, 3, 5], &[0, 2, 1]),
        (&[2, 3, 4, 5], &[0, 2, 3, 1]),
        (&[4, 1, 9], &[1, 2, 0]),
    ];

    #[test]
    fn fused_with_elementwise_and_reduced() {
        for (shape, perm) in CASES {
            let mut g = Graph::new("permute");
            let x = f32_input(&mut g, "x", shape);
            let p = push(&mut g, Op::Permute(perm.to_vec()), &[x]);
            let out: Vec<usize> = perm.iter().map(|&i| shape[i]).collect();
            let z = f32_input(&mut g, "z", &out);
            let e = push(&mut g, Op::Unary(UnOp::Exp), &[p]);
            let y = push(&mut g, Op::Binary(BinOp::Mul), &[e, z]);
            g.add_output("y", y, OutputRole::Metric);
            g.add_output("p", p, OutputRole::Metric);
            let s = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![out.len() - 1]), &[y]);
            g.add_output("s", s, OutputRole::Metric);
            let flat = push(&mut g, Op::Reshape(vec![out.iter().product()]), &[p]);
            let f = push(&mut g, Op::Unary(UnOp::Neg), &[flat]);
            g.add_output("flat", f, OutputRole::Metric);
            check(&g);
        }
    }

    #[test]
    fn transposed_operands_of_a_matmul() {
        for (m, k, n) in [(1, 3, 5), (7, 5, 3), (4, 4, 4)] {
            let mut g = Graph::new("matmul_t");
            let a = f32_input(&mut g, "a", &[k, m]);
            let b = f32_input(&mut g, "b", &[k, n]);
            let at = push(&mut g, Op::Permute(vec![1, 0]), &[a]);
            let y = push(&mut g, Op::MatMul { ta: false, tb: false }, &[at, b]);
            let yt = push(&mut g, Op::Permute(vec![1, 0]), &[y]);
            g.add_output("yt", yt, OutputRole::Metric);
            check(&g);
        }
    }

    #[test]
    fn of_a_broadcast_and_of_an_i32_value() {
        let mut g = Graph::new("permute_views");
        let x = f32_input(&mut g, "x", &[5]);
        let b = push(&mut g, Op::Broadcast(vec![3, 5]), &[x]);
        let p = push(&mut g, Op::Permute(vec![1, 0]), &[b]);
        let e = push(&mut g, Op::Unary(UnOp::Exp), &[p]);
        g.add_output("e", e, OutputRole::Metric);
        let l = g.add_input("l", Type::new(DType::I32, vec![2, 3]), InputRole::Label);
        let lt = push(&mut g, Op::Permute(vec![1, 0]), &[l]);
        g.add_output("lt", lt, OutputRole::Metric);
        check(&g);
    }
}

/// Slices are offset-and-stride views; `concat` copies contiguous parts into one buffer.
mod slice_concat {
    use super::*;

    /// (shape, axis, start, end, step)
    const SLICES: [(&[usize], usize, usize, usize, usize); 7] = [
        (&[7], 0, 2, 7, 1),
        (&[9], 0, 1, 8, 3),
        (&[3, 5], 1, 1, 4, 1),
        (&[5, 3], 0, 0, 5, 2),
        (&[1, 7, 3], 1, 3, 3, 1),
        (&[2, 9, 5], 2, 4, 5, 1),
        (&[3, 33], 1, 1, 33, 4),
    ];

    #[test]
    fn slices_fused_reduced_and_fed_to_gemm() {
        for (shape, axis, start, end, step) in SLICES {
            let mut g = Graph::new("slice");
            let x = f32_input(&mut g, "x", shape);
            let s = push(&mut g, Op::Slice { axis, start, end, step }, &[x]);
            let e = push(&mut g, Op::Unary(UnOp::Exp), &[s]);
            g.add_output("e", e, OutputRole::Metric);
            g.add_output("s", s, OutputRole::Metric);
            let rank = shape.len();
            let r = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![rank - 1]), &[s]);
            g.add_output("r", r, OutputRole::Metric);
            // A slice of a slice composes offsets.
            let n = g.ty(s).shape[axis];
            if n > 1 {
                let ss = push(&mut g, Op::Slice { axis, start: 1, end: n, step: 1 }, &[s]);
                let neg = push(&mut g, Op::Unary(UnOp::Neg), &[ss]);
                g.add_output("ss", neg, OutputRole::Metric);
            }
            if rank == 2 {
                let sh = g.ty(s).shape.clone();
                let w = f32_input(&mut g, "w", &[sh[1], 3]);
                let m = push(&mut g, Op::MatMul { ta: false, tb: false }, &[s, w]);
                g.add_output("m", m, OutputRole::Metric);
            }
            check(&g);
        }
    }

    #[test]
    fn concat_along_each_axis() {
        for (a, b, axis) in [
            (vec![3], vec![4], 0),
            (vec![1, 5], vec![2, 5], 0),
            (vec![3, 1], vec![3, 7], 1),
            (vec![2, 3, 4], vec![2, 5, 4], 1),
            (vec![2, 3, 4], vec![2, 3, 1], 2),
        ] {
            let mut g = Graph::new("concat");
            let x = f32_input(&mut g, "x", &a);
            let y = f32_input(&mut g, "y", &b);
            let ex = push(&mut g, Op::Unary(UnOp::Exp), &[x]);
            let k = g.constant(2.5);
            let c = push(&mut g, Op::Broadcast(b.clone()), &[k]);
            let j = push(&mut g, Op::Concat { axis, parts: 3 }, &[ex, y, c]);
            g.add_output("j", j, OutputRole::Metric);
            let t = push(&mut g, Op::Unary(UnOp::Tanh), &[j]);
            g.add_output("t", t, OutputRole::Metric);
            check(&g);
        }
    }

    #[test]
    fn concat_of_i32_and_of_a_transposed_view() {
        let mut g = Graph::new("concat_views");
        let l = g.add_input("l", Type::new(DType::I32, vec![2, 3]), InputRole::Label);
        let m = g.add_input("m", Type::new(DType::I32, vec![1, 3]), InputRole::Label);
        let j = push(&mut g, Op::Concat { axis: 0, parts: 2 }, &[l, m]);
        g.add_output("j", j, OutputRole::Metric);
        let x = f32_input(&mut g, "x", &[3, 2]);
        let xt = push(&mut g, Op::Permute(vec![1, 0]), &[x]);
        let s = push(&mut g, Op::Slice { axis: 1, start: 1, end: 3, step: 1 }, &[xt]);
        let k = push(&mut g, Op::Concat { axis: 1, parts: 2 }, &[xt, s]);
        g.add_output("k", k, OutputRole::Metric);
        check(&g);
    }
}

/// Gather and scatter-add, with ids in and out of range (`random_input` draws ids in 0..5).
mod gather {
    use super::*;

    #[test]
    fn rows_of_a_table_and_their_gradient() {
        for (table, ids) in [
            (vec![3, 4], vec![7]),
            (vec![5, 1], vec![1]),
            (vec![4, 5], vec![2, 3]),
            (vec![3, 2, 3], vec![5]),
            (vec![6], vec![9]),
        ] {
            let mut g = Graph::new("gather");
            let t = f32_input(&mut g, "t", &table);
            let i = g.add_input("i", Type::new(DType::I32, ids.clone()), InputRole::Label);
            let e = push(&mut g, Op::Unary(UnOp::Exp), &[t]);
            let y = push(&mut g, Op::Gather, &[e, i]);
            g.add_output("y", y, OutputRole::Metric);
            let gs: Vec<usize> = [&ids[..], &table[1..]].concat();
            let gy = f32_input(&mut g, "gy", &gs);
            let s = push(&mut g, Op::ScatterAdd(table[0]), &[i, gy]);
            g.add_output("s", s, OutputRole::Metric);
            check(&g);
        }
    }
}

/// The sum over the ranks, in one process: the operand, read from a strided view and from a
/// scalar, and used by the kernels after it.
mod all_sum {
    use super::*;

    #[test]
    fn one_process_sums_to_its_own_values() {
        let mut g = Graph::new("all_sum");
        let x = f32_input(&mut g, "x", &[3, 4]);
        let xt = push(&mut g, Op::Permute(vec![1, 0]), &[x]);
        let s = push(&mut g, Op::AllSum, &[xt]);
        let e = push(&mut g, Op::Unary(UnOp::Exp), &[s]);
        g.add_output("e", e, OutputRole::Metric);
        let total = push(&mut g, Op::Reduce(ReduceOp::Sum, vec![0, 1]), &[x]);
        let t = push(&mut g, Op::AllSum, &[total]);
        g.add_output("t", t, OutputRole::Metric);
        let exe = check(&g);
        assert_eq!(exe.collectives(), [(0, 12), (1, 1)]);
    }
}
