//! `absnet crop` through the binary: windows of the asked aspect ratios and scale inside each
//! photo (after EXIF orientation), on the subject, as records and images; bad input refused by
//! name.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn temp_dir(name: &str) -> absnet_testkit::TempFolder {
    absnet_testkit::temp_folder(&format!("crop-{name}"))
}

fn crop(inputs: &[&Path], out: &Path, extra: &[&str]) -> (bool, String, Vec<Value>) {
    image_command("crop", "crops.jsonl", inputs, out, extra)
}

fn window(c: &Value) -> [u64; 4] {
    ["x", "y", "width", "height"].map(|k| c[k].as_u64().unwrap())
}

#[test]
fn windows_have_their_aspect_lie_inside_and_keep_the_cat() {
    let out = temp_dir("chelsea");
    let photo = repo().join("samples/chelsea.png");
    let (ok, text, records) = crop(&[&photo], &out, &["--write-images"]);
    assert!(ok, "{text}");
    let record = &records[0];
    assert_eq!(
        (record["width"].as_u64(), record["height"].as_u64()),
        (Some(451), Some(300))
    );
    let crops = record["crops"].as_array().unwrap();
    let aspects: Vec<&str> = crops
        .iter()
        .map(|c| c["aspect"].as_str().unwrap())
        .collect();
    assert_eq!(aspects, ["1:1", "16:9", "9:16"]);
    // The largest window of each aspect in a 451×300 photo: 300×300, 451×254, 169×300.
    let sizes: Vec<[u64; 2]> = crops.iter().map(|c| [window(c)[2], window(c)[3]]).collect();
    assert_eq!(sizes, [[300, 300], [451, 254], [169, 300]]);
    for c in crops {
        let [x, y, w, h] = window(c);
        assert!(x + w <= 451 && y + h <= 300, "{c}");
        let score = c["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{c}");
        let file = c["file"].as_str().unwrap();
        assert_eq!(image::image_dimensions(file).unwrap(), (w as u32, h as u32));
    }
    // The narrow 9:16 window holds the cat's face (eyes to muzzle, marked by hand: x 190–290).
    let [x, _, w, _] = window(&crops[2]);
    assert!(x <= 190 && x + w >= 290, "{:?}", window(&crops[2]));
    // One CSV row per crop, under one header.
    let csv = std::fs::read_to_string(out.join("crops.csv")).unwrap();
    assert!(
        csv.starts_with("image,width,height,aspect,x,y,crop_width,crop_height,score,file,error\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4);
}

#[test]
fn scale_and_exact_sizes() {
    let photo = repo().join("samples/chelsea.png");
    let (ok, text, records) = crop(
        &[&photo],
        &temp_dir("scale"),
        &["--aspects", "1:1", "--scale", "0.6"],
    );
    assert!(ok, "{text}");
    assert_eq!(window(&records[0]["crops"][0])[2..], [180, 180]);
    // An exact size: cropped at its aspect, then resized; larger than the window only with
    // --upscale.
    let out = temp_dir("size");
    let (ok, text, records) = crop(&[&photo], &out, &["--size", "160x90"]);
    assert!(ok, "{text}");
    let file = records[0]["crops"][0]["file"].as_str().unwrap();
    assert!(file.ends_with("chelsea.160x90.jpg"), "{file}");
    assert_eq!(image::image_dimensions(file).unwrap(), (160, 90));
    let (ok, text, _) = crop(&[&photo], &temp_dir("too-large"), &["--size", "1600x900"]);
    assert!(
        !ok && text.contains("larger than the 451×254 window") && text.contains("upscal"),
        "{text}"
    );
    let (ok, text, _) = crop(
        &[&photo],
        &temp_dir("upscale"),
        &["--size", "1600x900", "--upscale"],
    );
    assert!(ok, "{text}");
}

/// A JPEG of `width × height` stored pixels whose EXIF orientation is 6 (shown turned 90°
/// clockwise, so `height × width`).
fn rotated_jpeg(path: &Path, width: u32, height: u32) {
    let mut bytes = Vec::new();
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 120])
    })
    .write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112) = 6.
    let tiff: Vec<u8> = [
        b"MM\x00\x2a\x00\x00\x00\x08".as_slice(),
        &[0, 1],
        &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0],
        &[0, 0, 0, 0],
    ]
    .concat();
    let payload = [b"Exif\x00\x00".as_slice(), &tiff].concat();
    let length = (payload.len() + 2) as u16;
    let app1 = [[0xFF, 0xE1].as_slice(), &length.to_be_bytes(), &payload].concat();
    let with_exif = [&bytes[..2], &app1, &bytes[2..]].concat();
    std::fs::write(path, with_exif).unwrap();
}

#[test]
fn windows_are_in_the_pixels_of_the_photo_as_shown() {
    let dir = temp_dir("exif");
    let photo = dir.join("rotated.jpg");
    rotated_jpeg(&photo, 120, 80);
    let (ok, text, records) = crop(&[&photo], &dir.join("out"), &["--aspects", "1:1,16:9"]);
    assert!(ok, "{text}");
    // Stored 120×80, shown 80×120: a 1:1 window is 80×80, a 16:9 one 80×45.
    assert_eq!(
        (records[0]["width"].as_u64(), records[0]["height"].as_u64()),
        (Some(80), Some(120))
    );
    assert_eq!(window(&records[0]["crops"][0])[2..], [80, 80]);
    assert_eq!(window(&records[0]["crops"][1])[2..], [80, 45]);
}

#[test]
fn bad_aspects_scales_and_tiny_images_are_named() {
    let photo = repo().join("samples/chelsea.png");
    for (option, value, expected) in [
        ("--aspects", "16x9", "aspect `16x9`"),
        ("--aspects", "0:1", "aspect `0:1`"),
        ("--scale", "0", "outside (0, 1]"),
        ("--scale", "1.5", "outside (0, 1]"),
    ] {
        let (ok, text, _) = crop(&[&photo], &temp_dir("bad"), &[option, value]);
        assert!(!ok && text.contains(expected), "{option} {value}: {text}");
    }
    // A 1×1 photo: the model's input is fine (it is resized), but a 16:1 window would be under
    // one pixel high: that image fails by name, the others are cropped.
    let dir = temp_dir("tiny");
    let tiny = dir.join("tiny.png");
    image::RgbImage::new(1, 1).save(&tiny).unwrap();
    let (ok, text, records) = crop(&[&tiny, &photo], &dir.join("out"), &["--aspects", "16:1"]);
    assert!(
        !ok && text.contains("tiny.png") && text.contains("under one pixel"),
        "{text}"
    );
    assert_eq!(
        records.len(),
        2,
        "a record for each input, the failure included"
    );
}

/// smartcrop.js's answer (its TypeScript typings: `CropResult { topCrop: Crop }`, `Crop { x, y,
/// width, height, score: CropScore }`, `CropScore { …, total }`), one line per image on
/// standard output, with the same windows as the records.
#[test]
fn the_smartcrop_format_prints_smartcrop_answers_and_nothing_else() {
    let out = temp_dir("smartcrop");
    let photos = [
        repo().join("samples/chelsea.png"),
        repo().join("samples/coffee.png"),
    ];
    let output = absnet()
        .arg("crop")
        .args(&photos)
        .args(["--aspects", "16:9,1:1", "--format", "smartcrop", "--out"])
        .arg(&*out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records: Vec<Value> = std::fs::read_to_string(out.join("crops.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let answers: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(answers.len(), 2, "{stdout}");
    for (answer, record) in answers.iter().zip(&records) {
        let mut keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["crops", "image", "topCrop"]);
        assert_eq!(answer["image"], record["image"]);
        assert_eq!(answer["topCrop"], answer["crops"][0]);
        let crops = answer["crops"].as_array().unwrap();
        let recorded = record["crops"].as_array().unwrap();
        assert_eq!(crops.len(), 2);
        for (crop, recorded) in crops.iter().zip(recorded) {
            let mut keys: Vec<&String> = crop.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(keys, ["height", "score", "width", "x", "y"]);
            assert_eq!(window(crop), window(recorded));
            assert_eq!(crop["score"]["total"], recorded["score"]);
        }
    }
    assert!(String::from_utf8_lossy(&output.stderr).contains("2 images cropped"));
}

#[test]
fn an_aspect_asked_for_twice_is_refused_and_help_names_each_option_once() {
    let photo = repo().join("samples/chelsea.png");
    let (ok, text, _) = crop(
        &[&photo],
        &temp_dir("twice"),
        &["--aspects", "1:1,16:9,2:2"],
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("--aspects") && text.contains("`1:1` is asked for twice (as `2:2`)"),
        "{text}"
    );
    let help = absnet().args(["crop", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let options: Vec<&str> = help
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
        })
        .collect();
    let mut unique = options.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(options.len(), unique.len(), "{help}");
    assert!(
        options.contains(&"--size") && options.contains(&"--input-size"),
        "{help}"
    );
}
