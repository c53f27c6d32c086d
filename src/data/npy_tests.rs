use std::io::Write;

use super::*;
use crate::data::array::dataset;
use crate::data::errors::{DATA_MISSING, DATA_NPZ, DATA_SHAPE, DATA_VALUE};
use crate::data::generate::tests::span;
use crate::data::Labels;

fn o() -> Origin {
    Origin { file: "t.npy".into(), code: DATA_NPY, span: span() }
}

/// An NPY file of version `major`.0 with this header dict and data, padded as NumPy pads it.
fn npy_v(major: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let start = if major == 1 { 10 } else { 12 };
    let mut header = dict.to_string();
    while !(start + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = [MAGIC, &[major, 0]].concat();
    if major == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header.bytes());
    out.extend(data);
    out
}

fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    npy_v(1, &format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"), data)
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The message of a failed parse, after the file name, and its code.
fn message(bytes: &[u8]) -> (String, &'static str) {
    let d = parse(bytes, &o()).expect_err("should fail");
    assert!(d.help.is_some() && d.label.is_some(), "{d:?}");
    (d.message.trim_start_matches("`t.npy`: ").to_string(), d.code)
}

#[test]
fn reads_every_dtype_and_version() {
    let f = npy("<f4", "(2, 2)", &f32s(&[1.0, -2.5, 3.0, 0.0]));
    assert_eq!(
        parse(&f, &o()).unwrap(),
        Array { shape: vec![2, 2], values: Values::F32(vec![1.0, -2.5, 3.0, 0.0].into()) }
    );
    let cases = [
        ("<f8", [1.5f64.to_le_bytes(), (-2f64).to_le_bytes()].concat(), Values::F64(vec![1.5, -2.0])),
        ("<i4", [7i32.to_le_bytes(), (-1i32).to_le_bytes()].concat(), Values::I32(vec![7, -1])),
        ("<i8", [(1i64 << 40).to_le_bytes(), 3i64.to_le_bytes()].concat(), Values::I64(vec![1 << 40, 3])),
        ("|u1", vec![0, 255], Values::U8(vec![0, 255])),
        // A byte has no byte order, so any marker is fine.
        ("<u1", vec![4, 5], Values::U8(vec![4, 5])),
        (">u1", vec![4, 5], Values::U8(vec![4, 5])),
    ];
    for (descr, data, values) in cases {
        assert_eq!(parse(&npy(descr, "(2,)", &data), &o()).unwrap(), Array { shape: vec![2], values }, "{descr}");
    }
    // Versions 2.0 and 3.0 have a 4-byte header length; keys in any order, double quotes,
    // no trailing comma; a 0-d array has shape ().
    let dict = "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"|u1\"}";
    for major in [2, 3] {
        assert_eq!(parse(&npy_v(major, dict, &[1, 2, 3]), &o()).unwrap().shape, [3]);
    }
    assert_eq!(parse(&npy("<f4", "()", &f32s(&[2.0])), &o()).unwrap().shape, Vec::<usize>::new());
    assert_eq!(parse(&npy("<f4", "(0, 3)", &[]), &o()).unwrap().values, Values::F32(vec![].into()));
}

#[test]
fn bad_headers() {
    let good = npy("<f4", "(1,)", &f32s(&[1.0]));
    let header = |dict: &str| npy_v(1, dict, &[0; 4]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04 a zip".to_vec(), "not an NPY file (it does not start with `\\x93NUMPY`)"),
        (vec![], "not an NPY file (it does not start with `\\x93NUMPY`)"),
        (b"\x93NUM".to_vec(), "the file ends inside its header"),
        (b"\x93NUMPY\x01".to_vec(), "the file ends inside its header"),
        (b"\x93NUMPY\x04\x00\x10\x00".to_vec(), "NPY format version 4.0 is not supported"),
        (b"\x93NUMPY\x01\x01\x10\x00".to_vec(), "NPY format version 1.1 is not supported"),
        (good[..9].to_vec(), "the file ends inside its header"),
        (good[..40].to_vec(), "the file ends inside its header"),
        (npy("<f4", "(1,", &[]), "malformed NPY header: expected a size at byte 53"),
        (header("{'descr': '<f4', 'shape': (1,)}"), "malformed NPY header: missing key 'fortran_order'"),
        (header("{'fortran_order': False, 'shape': (1,)}"), "malformed NPY header: missing key 'descr'"),
        (header("{'descr': '<f4', 'fortran_order': False}"), "malformed NPY header: missing key 'shape'"),
        (
            header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 'y'}"),
            "malformed NPY header: unexpected key 'x'",
        ),
        (
            header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
            "malformed NPY header: key 'descr' appears twice",
        ),
        (
            header("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}"),
            "malformed NPY header: expected a string, True, False or a tuple at byte 34",
        ),
        (
            header("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}"),
            "malformed NPY header: `fortran_order` must be True or False",
        ),
        (
            header("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}"),
            "malformed NPY header: `shape` must be a tuple of sizes such as (60000, 784)",
        ),
        (
            header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
            "malformed NPY header: structured dtypes (a list `descr`) are not supported",
        ),
        (
            header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
            "malformed NPY header: expected a size at byte 51",
        ),
        (header("{'descr: '<f4'}"), "malformed NPY header: expected `:` at byte 10"),
        (
            header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x"),
            "malformed NPY header: unexpected text after the dict at byte 56",
        ),
        (npy(">f4", "(1,)", &[0; 4]), "the array is big-endian (`>f4`)"),
        (npy("=i8", "(1,)", &[0; 8]), "the array's byte order is `native` (`=i8`), which does not say which it is"),
        (npy("<f2", "(1,)", &[0; 2]), "dtype `<f2` is not supported"),
        (npy("|b1", "(1,)", &[0]), "dtype `|b1` is not supported"),
        (npy("f4", "(1,)", &[0; 4]), "dtype `f4` is not supported"),
        (
            npy_v(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", &[0; 16]),
            "the array is stored in Fortran (column-major) order",
        ),
        (
            npy("<f4", "(4294967296, 4294967296, 4294967296)", &[]),
            "shape [4294967296, 4294967296, 4294967296] is too large",
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(message(&bytes), (want.to_string(), DATA_NPY), "{:?}", String::from_utf8_lossy(&bytes));
    }
    let d = parse(&npy(">f4", "(1,)", &[0; 4]), &o()).unwrap_err();
    assert_eq!(d.help.as_deref(), Some("only little-endian arrays are read; save `a.astype('<f4')` instead"));
}

#[test]
fn truncated_and_trailing_data() {
    let full = f32s(&[1.0; 6]);
    assert_eq!(
        message(&npy("<f4", "(2, 3)", &full[..23])).0,
        "the data is truncated: shape [2, 3] of float32 needs 24 bytes, the file holds 23"
    );
    assert_eq!(
        message(&npy("<i8", "(2,)", &[])).0,
        "the data is truncated: shape [2] of int64 needs 16 bytes, the file holds 0"
    );
    assert_eq!(message(&npy("<f4", "(1, 3)", &full)).0, "12 bytes follow the data of shape [1, 3]");
}

fn array(shape: &[usize], values: Values) -> Array {
    Array { shape: shape.to_vec(), values }
}

fn yo() -> Origin {
    Origin { file: "y.npy".into(), ..o() }
}

#[test]
fn features_and_labels_make_a_dataset() {
    let x = array(&[2, 1, 2, 2], Values::U8((0..8).collect()));
    let ds = dataset(x, &o(), array(&[2], Values::I64(vec![1, 0])), &yo()).unwrap();
    assert_eq!((ds.n, ds.d, ds.shape.clone()), (2, 4, vec![1, 2, 2]));
    assert_eq!(ds.row(1), [4.0, 5.0, 6.0, 7.0]);
    assert_eq!(ds.labels, Labels::Classes { y: vec![1, 0], classes: 2 });
    // Float labels are regression targets, [N] or [N, K].
    let x = || array(&[2, 1], Values::F64(vec![0.5, 1.5]));
    let ds = dataset(x(), &o(), array(&[2], Values::F32(vec![3.0, 4.0].into())), &yo()).unwrap();
    assert_eq!((ds.shape.clone(), ds.labels), (vec![1], Labels::Targets { y: vec![3.0, 4.0], k: 1 }));
    let ds = dataset(x(), &o(), array(&[2, 2], Values::F64(vec![1.0, 2.0, 3.0, 4.0])), &yo()).unwrap();
    assert_eq!(ds.labels, Labels::Targets { y: vec![1.0, 2.0, 3.0, 4.0], k: 2 });
    let ds = dataset(x(), &o(), array(&[2], Values::I32(vec![0, 4])), &yo()).unwrap();
    assert_eq!(ds.labels, Labels::Classes { y: vec![0, 4], classes: 5 });
}

#[test]
fn dataset_errors() {
    let check = |x: Array, y: Array, code: &str, want: &str| {
        let d = dataset(x, &o(), y, &yo()).expect_err(want);
        assert_eq!((d.code, d.message.as_str()), (code, want));
    };
    let y2 = || array(&[2], Values::U8(vec![0, 1]));
    let x2 = || array(&[2, 2], Values::F32(vec![0.0; 4].into()));
    for shape in [vec![2], vec![0, 3], vec![2, 0], vec![]] {
        let n = shape.iter().product();
        let want = format!("`t.npy`: features of shape {shape:?} are not rows of features");
        check(array(&shape, Values::F32(vec![0.0; n].into())), y2(), DATA_SHAPE, &want);
    }
    check(x2(), array(&[2, 1], Values::I32(vec![0, 1])), DATA_SHAPE, "`y.npy`: labels of shape [2, 1] do not fit");
    check(x2(), array(&[2, 0], Values::F32(vec![].into())), DATA_SHAPE, "`y.npy`: labels of shape [2, 0] do not fit");
    check(x2(), array(&[], Values::F32(vec![1.0].into())), DATA_SHAPE, "`y.npy`: labels of shape [] do not fit");
    check(
        x2(),
        array(&[3], Values::U8(vec![0; 3])),
        DATA_SHAPE,
        "`y.npy`: holds 3 labels, but `t.npy` holds 2 rows of features",
    );
    let nan = array(&[2, 2], Values::F32(vec![0.0, 0.0, f32::NAN, 0.0].into()));
    check(nan, y2(), DATA_VALUE, "`t.npy`: row 1 (counting from 0) holds a value that is not a finite f32");
    let huge = array(&[2, 1], Values::F64(vec![1e39, 0.0]));
    check(huge, y2(), DATA_VALUE, "`t.npy`: row 0 (counting from 0) holds a value that is not a finite f32");
    let bad_target = array(&[2, 2], Values::F64(vec![0.0, 0.0, 0.0, f64::INFINITY]));
    check(x2(), bad_target, DATA_VALUE, "`y.npy`: row 1 (counting from 0) holds a value that is not a finite f32");
    check(
        x2(),
        array(&[2], Values::I32(vec![0, -3])),
        DATA_VALUE,
        "`y.npy`: row 1 (counting from 0) has class label -3, not one of 0, 1, …",
    );
    check(
        x2(),
        array(&[2], Values::I64(vec![1 << 33, 0])),
        DATA_VALUE,
        "`y.npy`: row 0 (counting from 0) has class label 8589934592, not one of 0, 1, …",
    );
}

#[test]
fn loads_files_and_npz_archives() {
    let dir = tempfile::tempdir().unwrap();
    let x = npy("<f4", "(2, 2)", &f32s(&[1.0, 2.0, 3.0, 4.0]));
    let y = npy("<i8", "(2,)", &[1i64.to_le_bytes(), 0i64.to_le_bytes()].concat());
    let path = dir.path().join("x.npy");
    std::fs::write(&path, &x).unwrap();
    assert_eq!(load_npy(&path, span()).unwrap().shape, [2, 2]);
    let d = load_npy(&dir.path().join("none.npy"), span()).unwrap_err();
    assert_eq!(d.code, DATA_MISSING);
    assert!(d.message.contains("none.npy`: cannot read it: "), "{}", d.message);
    assert_eq!(load_npy(dir.path(), span()).unwrap_err().code, DATA_MISSING);

    // numpy.savez stores its members, numpy.savez_compressed deflates them.
    let npz = dir.path().join("d.npz");
    for method in [zip::CompressionMethod::Stored, zip::CompressionMethod::Deflated] {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&npz).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in [("images.npy", &x), ("labels.npy", &y), ("notes.txt", &vec![])] {
            w.start_file(name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        let arrays = load_npz(&npz, &["images", "labels"], span()).unwrap();
        assert_eq!(arrays[1].0.values, Values::I64(vec![1, 0]));
        assert!(arrays[1].1.file.ends_with("d.npz` array `labels"), "{}", arrays[1].1.file);
        let (x, y) = (&arrays[0], &arrays[1]);
        let ds = dataset(x.0.clone(), &x.1, y.0.clone(), &y.1).unwrap();
        assert_eq!(ds.labels, Labels::Classes { y: vec![1, 0], classes: 2 });
    }
    let d = load_npz(&npz, &["x"], span()).unwrap_err();
    assert_eq!(d.code, DATA_NPZ);
    assert!(d.message.ends_with("d.npz`: there is no array named `x`"), "{}", d.message);
    assert_eq!(d.help.as_deref(), Some("it holds `images`, `labels`"));
    std::fs::write(&npz, &x).unwrap();
    let d = load_npz(&npz, &["images"], span()).unwrap_err();
    assert_eq!(d.code, DATA_NPZ);
    assert!(d.message.contains("not a readable NPZ (zip) archive"), "{}", d.message);
    // A damaged member fails its checksum.
    let mut w = zip::ZipWriter::new(std::fs::File::create(&npz).unwrap());
    w.start_file(
        "images.npy",
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
    )
    .unwrap();
    w.write_all(&x).unwrap();
    w.finish().unwrap();
    let mut bytes = std::fs::read(&npz).unwrap();
    let at = bytes.windows(6).position(|w| w == MAGIC).unwrap() + 70;
    bytes[at] ^= 0xff;
    std::fs::write(&npz, &bytes).unwrap();
    let d = load_npz(&npz, &["images"], span()).unwrap_err();
    assert_eq!(d.code, DATA_NPZ);
    assert!(d.message.contains("cannot extract array `images`"), "{}", d.message);
}

#[test]
fn member_errors_name_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("e.npz");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&npz).unwrap());
    w.start_file("x.npy", zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(&npy(">f8", "(1,)", &[0; 8])).unwrap();
    w.finish().unwrap();
    let d = load_npz(&npz, &["x"], span()).unwrap_err();
    assert_eq!(d.code, DATA_NPY);
    assert!(d.message.ends_with("e.npz` array `x`: the array is big-endian (`>f8`)"), "{}", d.message);
}

#[test]
fn encoded_arrays_read_back() {
    for (shape, values) in [
        (vec![2, 3], Values::F32(vec![1.0, -2.5, 3.0, 0.0, f32::MIN_POSITIVE, 1e30].into())),
        (vec![4], Values::I32(vec![0, 9, -1, 3])),
        (vec![1, 2, 2, 1], Values::F32(vec![0.5; 4].into())),
    ] {
        let bytes = encode(&shape, &values);
        assert_eq!(bytes.iter().position(|&b| b == b'\n').map(|i| (i + 1) % 64), Some(0), "data starts aligned");
        assert_eq!(parse(&bytes, &o()).unwrap(), Array { shape, values });
    }
}
