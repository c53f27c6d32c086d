//! Writing a trained model in other tools' formats: ONNX, for ONNX Runtime and the runtimes that
//! read it.

pub mod onnx;
