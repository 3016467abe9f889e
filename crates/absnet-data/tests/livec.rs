//! LIVE-C (picture quality) on the real labels and images in ../shared/data/livec: the counts
//! `data check` reports, and bad label files refused by name.

use std::path::Path;

use absnet_data::DatasetSpec;
use absnet_data::check::check_dataset;

fn spec(path: &Path) -> DatasetSpec {
    format!("livec:{}", path.display()).parse().unwrap()
}

#[test]
fn the_shared_folder_holds_627_of_1169_labelled_images() {
    let Some(root) = absnet_testkit::shared_data("livec") else {
        return;
    };
    let summary = check_dataset(&spec(&root)).unwrap();
    let ratings = summary.ratings.as_ref().unwrap();
    assert_eq!((ratings.labelled, ratings.present), (1169, 627));
    assert_eq!(summary.images, 627);
    assert_eq!(
        ratings.mos.map(|m| (m * 100.0).round() / 100.0),
        [3.42, 92.43]
    );
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.sizes["500x500"], 625);
    let samples = spec(&root).load().unwrap();
    let first = samples.iter().find(|s| s.id == "533").unwrap();
    let opinion = first.opinion.unwrap();
    assert!((0.0..=100.0).contains(&opinion.mos) && opinion.sd > 0.0);
    // Split files name LIVE-C images `livec/STEM` whatever the folder is called (the release's
    // is `ChallengeDB_release`), so one split serves the release and the shared part alike.
    let named = spec(&root).load_named().unwrap();
    assert!(named.iter().all(|s| s.id.starts_with("livec/")));
    assert_eq!(spec(Path::new("/x/ChallengeDB_release")).name(), "livec");
}

/// A copy of the shared folder's labels with `edit` applied to its text, the images linked.
fn edited(name: &str, edit: impl Fn(&str) -> String) -> Option<tempfile::TempDir> {
    let root = absnet_testkit::shared_data("livec")?;
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("images"), dir.path().join("images")).unwrap();
    let text = std::fs::read_to_string(root.join("labels.csv")).unwrap();
    std::fs::write(dir.path().join("labels.csv"), edit(&text)).unwrap();
    Some(dir)
}

/// A case: its name, how it edits the labels, and what the error must say.
type Case = (&'static str, fn(&str) -> String, &'static str);

#[test]
fn bad_labels_are_refused_by_file_and_line() {
    let cases: [Case; 4] = [
        (
            "nan",
            |t| t.replacen("t1.bmp,63.963406174124174", "t1.bmp,NaN", 1),
            "line 2: MOS NaN",
        ),
        (
            "range",
            |t| t.replacen("t2.bmp,25.335306406685238", "t2.bmp,125", 1),
            "line 3: MOS 125",
        ),
        (
            "twice",
            |t| format!("{t}533.JPG,50,10,jpeg,1\n"),
            "image `533.JPG` is labelled twice",
        ),
        (
            "fields",
            |t| t.replacen("t3.bmp,", "t3.bmp;", 1),
            "line 4: 4 fields",
        ),
    ];
    for (name, edit, expected) in cases {
        let Some(dir) = edited(name, edit) else {
            return;
        };
        let err = spec(dir.path()).load().unwrap_err().to_string();
        assert!(
            err.contains("labels.csv") && err.contains(expected),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_labelled_image_missing_from_the_folder_is_a_named_problem() {
    // 533.JPG is labelled as in the folder; here the folder lacks it.
    let Some(root) = absnet_testkit::shared_data("livec") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("missing")
        .tempdir()
        .unwrap();
    std::fs::create_dir(dir.path().join("images")).unwrap();
    for name in ["534.JPG", "535.JPG"] {
        std::os::unix::fs::symlink(
            root.join("images").join(name),
            dir.path().join("images").join(name),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(root.join("labels.csv")).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("name,")
                || ["533.JPG", "534.JPG", "535.JPG", "t1.bmp"]
                    .iter()
                    .any(|n| l.starts_with(n))
        })
        .collect();
    std::fs::write(dir.path().join("labels.csv"), kept.join("\n")).unwrap();
    let summary = check_dataset(&spec(dir.path())).unwrap();
    let ratings = summary.ratings.as_ref().unwrap();
    assert_eq!((ratings.labelled, ratings.present), (4, 3));
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert_eq!(summary.problems[0].image, "533");
    assert!(summary.problems[0].problem.contains("533.JPG"));
}
