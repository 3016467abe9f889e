//! `absnet rank` through the binary, on real photos (LIVE-C's shared part and the samples) and a
//! near-duplicate made here: the ranking follows the scores, a burst takes one place, the contact
//! sheet shows every group, and what cannot be ranked is refused by name.

mod common;

use common::*;
use std::path::Path;
use std::process::Output;

fn rank(inputs: &Path, out: &Path, extra: &[&str]) -> Output {
    absnet()
        .arg("rank")
        .arg(inputs)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_burst_takes_one_place_and_the_best_shots_come_first() {
    let Some(livec) = absnet_testkit::shared_data("livec") else {
        return;
    };
    let dir = absnet_testkit::temp_folder("rank");
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(livec.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names.iter().take(6) {
        std::fs::copy(path, photos.join(path.file_name().unwrap())).unwrap();
    }
    // A second shot of the cat: a little smaller and brighter.
    let cat = image::open(repo().join("samples/chelsea.png"))
        .unwrap()
        .to_rgb8();
    cat.save(photos.join("cat-1.png")).unwrap();
    let mut again = image::imageops::resize(&cat, 406, 270, image::imageops::FilterType::Triangle);
    image::imageops::colorops::brighten_in_place(&mut again, 12);
    again.save(photos.join("cat-2.png")).unwrap();

    let out = dir.join("ranking");
    let output = rank(&photos, &out, &["--top", "3"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("8 photos in 7 groups"), "{stdout}");
    let mut reader = csv::Reader::from_path(out.join("ranking.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 8);
    // Leaders in falling quality; the two cats in one group.
    let leaders: Vec<f64> = rows
        .iter()
        .filter(|r| r[3].is_empty())
        .map(|r| r[2].parse().unwrap())
        .collect();
    assert_eq!(leaders.len(), 7);
    assert!(leaders.windows(2).all(|w| w[0] >= w[1]), "{leaders:?}");
    let cats: Vec<&csv::StringRecord> = rows.iter().filter(|r| r[1].contains("cat-")).collect();
    assert_eq!(cats[0][0], cats[1][0], "one rank for the burst: {cats:?}");
    assert!(cats[1][3].contains("cat-"), "{cats:?}");

    // The contact sheet: every group's thumbnail and heatmap, written beside it.
    let sheet = std::fs::read_to_string(out.join("contact-sheet.html")).unwrap();
    assert_eq!(sheet.matches("<figure").count(), 7);
    assert_eq!(sheet.matches("class=\"top\"").count(), 3);
    for src in sheet.split("src=\"").skip(1) {
        let file = &src[..src.find('"').unwrap()];
        assert!(out.join(file).is_file(), "{file}");
    }

    // An earlier ranking is kept unless --overwrite; a head the model lacks is named.
    let again = rank(&photos, &out, &[]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("--overwrite"),
        "{err}"
    );
    let aesthetics = rank(&photos, &dir.join("other"), &["--by", "aesthetics"]);
    let err = String::from_utf8_lossy(&aesthetics.stderr);
    assert!(
        !aesthetics.status.success() && err.contains("no trained aesthetics head"),
        "{err}"
    );
}
