//! Built-in functions: the primitives `.grad` code is written in, and the initializers.

use crate::ir::UnOp;

/// Whether `name` is a built-in function: a unary op of the op table or one of [`NAMES`].
pub fn is_builtin(name: &str) -> bool {
    UnOp::from_name(name).is_some() || NAMES.contains(&name)
}

/// Every built-in name apart from the unary ops of the op table (see [`is_builtin`]); user code
/// may not redefine them.
pub const NAMES: &[&str] = &[
    "sum",
    "mean",
    "max",
    "maximum",
    "minimum",
    "one_hot",
    "argmax",
    "reshape",
    "f32",
    "i32",
    "transpose",
    "permute",
    "flatten",
    "slice",
    "index",
    "concat",
    "gather",
    "all_sum",
    "where",
    "pi",
    "same",
    "training",
    "rand",
    "require",
    "shape",
    "size",
    "convolve2d",
    "max_pool2d",
    "avg_pool2d",
    "clip",
    "zeros",
    "ones",
    "constant",
    "normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "torch_default",
    "with_fan_in",
    "kaiming_normal",
    "kaiming_uniform",
];

/// A built-in's formal parameter names, in positional order, with defaults where optional.
pub fn formals(name: &str) -> Option<&'static [(&'static str, Option<f64>)]> {
    const X: &[(&str, Option<f64>)] = &[("x", None)];
    Some(match name {
        _ if UnOp::from_name(name).is_some() => X,
        "f32" | "i32" => X,
        "transpose" => &[("x", None), ("a", Some(-2.0)), ("b", Some(-1.0))],
        "permute" => &[("x", None), ("dims", None)],
        "flatten" => &[("x", None), ("start", Some(1.0))],
        // NaN marks "to the end of the axis".
        "slice" => &[("x", None), ("axis", None), ("start", Some(0.0)), ("end", Some(f64::NAN)), ("step", Some(1.0))],
        "index" => &[("x", None), ("axis", None), ("i", None)],
        "concat" => &[("values", None), ("axis", Some(0.0))],
        "gather" => &[("table", None), ("ids", None)],
        "all_sum" => X,
        "rand" => &[("shape", None)],
        "require" => &[("cond", None), ("message", None)],
        "shape" => &[("x", None)],
        "size" => &[("x", None), ("axis", None)],
        // axis and keepdims default to "all axes" and false; NaN marks "not given".
        "sum" | "mean" | "max" => &[("x", None), ("axis", Some(f64::NAN)), ("keepdims", Some(0.0))],
        "maximum" | "minimum" => &[("a", None), ("b", None)],
        "where" => &[("cond", None), ("a", None), ("b", None)],
        "clip" => &[("x", None), ("lo", None), ("hi", None)],
        "one_hot" => &[("labels", None), ("classes", None)],
        "argmax" => &[("x", None), ("axis", Some(-1.0))],
        "reshape" => &[("x", None), ("shape", None)],
        "convolve2d" => &[
            ("x", None),
            ("w", None),
            ("stride", Some(1.0)),
            ("padding", Some(0.0)),
            ("dilation", Some(1.0)),
            ("groups", Some(1.0)),
        ],
        // A stride not given (NaN) is the kernel.
        "max_pool2d" | "avg_pool2d" => {
            &[("x", None), ("kernel", None), ("stride", Some(f64::NAN)), ("padding", Some(0.0))]
        }
        "zeros" | "ones" | "torch_default" => &[],
        "with_fan_in" => &[("init", None), ("fan_in", None)],
        "constant" => &[("value", None)],
        "normal" => &[("mean", Some(0.0)), ("std", Some(1.0))],
        "uniform" => &[("lo", Some(0.0)), ("hi", Some(1.0))],
        "xavier_normal" | "xavier_uniform" | "glorot_normal" | "glorot_uniform" => &[("gain", Some(1.0))],
        "he_normal" | "he_uniform" | "kaiming_normal" | "kaiming_uniform" => {
            &[("gain", Some(std::f64::consts::SQRT_2))]
        }
        _ => return None,
    })
}

/// Whether a built-in names an initializer, usable as a value without a call (`init: he_normal`).
pub fn is_initializer(name: &str) -> bool {
    matches!(
        name,
        "zeros"
            | "ones"
            | "constant"
            | "normal"
            | "uniform"
            | "xavier_normal"
            | "xavier_uniform"
            | "glorot_normal"
            | "glorot_uniform"
            | "he_normal"
            | "he_uniform"
            | "torch_default"
            | "kaiming_normal"
            | "kaiming_uniform"
    )
}
