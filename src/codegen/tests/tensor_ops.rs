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
