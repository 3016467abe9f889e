//! Readers of the formats not in ../shared/data, on the tiny fixtures that
//! scripts/reference/make_dataset_fixtures.py writes in their documented layouts (the .mat files
//! by scipy), and the errors for broken datasets.

use std::path::{Path, PathBuf};

use absnet_data::{DatasetSpec, Sample, salicon2017};

fn fixture(name: &str) -> PathBuf {
    absnet_testkit::fixture(&format!("datasets/{name}"))
}

fn load(format: &str, path: &Path) -> Result<Vec<Sample>, absnet_data::DataError> {
    format!("{format}:{}", path.display())
        .parse::<DatasetSpec>()?
        .load()
}

fn temp_copy(name: &str) -> absnet_testkit::TempFolder {
    let dir = absnet_testkit::temp_folder(&format!("data-{name}"));
    copy_dir(&fixture(name), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn salicon2017_reads_gaze_structs_and_splits() {
    let root = fixture("salicon2017");
    let samples = load("salicon2017", &root).unwrap();
    assert_eq!(samples.len(), 3, "train + val");
    let first = &samples[0];
    assert_eq!(first.id, "COCO_train2014_000000000009");
    assert_eq!(first.observers.len(), 2);
    assert!(
        first.observers[1].fixations.is_empty(),
        "an observer without fixations is kept, empty"
    );
    let xy: Vec<(f64, f64)> = first.observers[0]
        .fixations
        .iter()
        .map(|f| (f.x, f.y))
        .collect();
    assert_eq!(
        xy,
        [(0.0, 0.0), (7.0, 5.0), (3.5, 2.5)],
        "1-based [x, y] → 0-based"
    );
    assert!(
        first
            .density
            .as_ref()
            .unwrap()
            .ends_with("maps/train/COCO_train2014_000000000009.png")
    );
    let test = salicon2017::load_split(&root, "test").unwrap();
    assert_eq!(test.len(), 1);
    assert!(test[0].observers.is_empty() && test[0].density.is_none());
}

#[test]
fn mit1003_pairs_stimuli_with_both_maps() {
    let samples = load("mit1003", &fixture("mit1003")).unwrap();
    assert_eq!(samples.len(), 2);
    let street = &samples[0];
    assert_eq!(street.id, "i05june05_static_street_boston_p1010764");
    assert!(
        street
            .density
            .as_ref()
            .unwrap()
            .ends_with("i05june05_static_street_boston_p1010764_fixMap.jpg")
    );
    let points = street.load_fixation_map().unwrap().unwrap();
    let xy: Vec<(f64, f64)> = points.fixations.iter().map(|f| (f.x, f.y)).collect();
    assert_eq!(xy, [(0.5, 0.5), (3.5, 2.5), (7.5, 5.5)]);
}

#[test]
fn cat2000_reads_categories_and_fixlocs_in_double_and_logical() {
    let samples = load("cat2000", &fixture("cat2000")).unwrap();
    let ids: Vec<&str> = samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["Action/001", "Action/002", "Sketch/001"]);
    for sample in &samples {
        let points = sample.load_fixation_map().unwrap().unwrap();
        let xy: Vec<(f64, f64)> = points.fixations.iter().map(|f| (f.x, f.y)).collect();
        assert_eq!(xy, [(2.5, 1.5), (6.5, 4.5)], "{}", sample.id);
    }
}

#[test]
fn ava_txt_rows_splits_and_json() {
    let root = fixture("ava");
    let samples = load("ava", &root).unwrap();
    assert_eq!(samples.len(), 4);
    // The first row of the real test labels: image 231893.
    assert_eq!(samples[0].id, "231893");
    assert_eq!(samples[0].votes, Some([2, 8, 19, 36, 76, 52, 16, 9, 3, 2]));
    assert!(samples[0].image.ends_with("images/231893.jpg") && samples[0].image.exists());
    let split = format!("ava:{}?list=test.jpgl", root.display())
        .parse::<DatasetSpec>()
        .unwrap()
        .load()
        .unwrap();

    assert_eq!(
        split.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["242907", "427487"]
    );
    let Some(json) = absnet_testkit::shared_data("ava-labels/data/AVA/ava_labels_test.json") else {
        return;
    };
    let labels = load("ava-json", &json).unwrap();
    assert_eq!(labels.len(), 25_551);
    assert_eq!(labels[0].votes, samples[0].votes);
}

#[test]
fn broken_ava_rows_name_the_line() {
    let dir = temp_copy("ava");
    let good = std::fs::read_to_string(dir.join("AVA.txt")).unwrap();
    let cases = [
        ("5 999 1 2 3\n", "line 5: 5 columns; expected 15"),
        ("5 999 0 0 0 0 0 0 0 0 0 0 0 15 1396\n", "line 5: no votes"),
        (
            "5 231893 1 1 1 1 1 1 1 1 1 1 0 15 1396\n",
            "line 5: image id 231893 appears twice",
        ),
        (
            "5 999 1 1 1 x 1 1 1 1 1 1 0 15 1396\n",
            "line 5: `x` is not a non-negative integer",
        ),
    ];
    for (row, expected) in cases {
        std::fs::write(dir.join("AVA.txt"), format!("{good}{row}")).unwrap();
        let err = load("ava", &dir).unwrap_err().to_string();
        assert!(
            err.contains("AVA.txt") && err.contains(expected),
            "{row}: {err}"
        );
    }
    std::fs::write(dir.join("AVA.txt"), &good).unwrap();
    std::fs::write(dir.join("bad.jpgl"), "231893\n123\n").unwrap();
    let err = format!("ava:{}?list=bad.jpgl", dir.display())
        .parse::<DatasetSpec>()
        .unwrap()
        .load()
        .unwrap_err()
        .to_string();

    assert!(
        err.contains("bad.jpgl") && err.contains("line 2: image id 123 has no labels"),
        "{err}"
    );
}

#[test]
fn missing_images_and_orphan_labels_are_named() {
    // A map whose image is missing.
    let dir = temp_copy("mit1003");
    std::fs::remove_file(dir.join("ALLSTIMULI/i1000886213.jpeg")).unwrap();
    let err = load("mit1003", &dir).unwrap_err().to_string();
    assert!(
        err.contains("i1000886213_fix") && err.contains("no such image"),
        "{err}"
    );
    // An image without its fixation locations.
    let dir = temp_copy("cat2000");
    std::fs::remove_file(dir.join("trainSet/FIXATIONLOCS/Action/002.mat")).unwrap();
    let err = load("cat2000", &dir).unwrap_err().to_string();
    assert!(
        err.contains("Action/002.jpg") && err.contains("FIXATIONLOCS/Action/002.mat"),
        "{err}"
    );
    // A truncated and a v7.3 MAT-file.
    let dir = temp_copy("salicon2017");
    let mat = dir.join("fixations/train/COCO_train2014_000000000009.mat");
    let bytes = std::fs::read(&mat).unwrap();
    std::fs::write(&mat, &bytes[..bytes.len() / 2]).unwrap();
    let err = load("salicon2017", &dir).unwrap_err().to_string();
    assert!(err.contains("COCO_train2014_000000000009.mat"), "{err}");
    let mut v73 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".to_vec();
    v73.resize(600, b' ');
    std::fs::write(&mat, v73).unwrap();
    let err = load("salicon2017", &dir).unwrap_err().to_string();
    assert!(err.contains("v7.3") && err.contains("-v7"), "{err}");
    // A generic folder with a map for an image that is not there.
    let dir = absnet_testkit::temp_folder("data-folder");
    for sub in ["images", "maps"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::copy(
        fixture("mit1003/ALLSTIMULI/i1000886213.jpeg"),
        dir.join("images/a.jpg"),
    )
    .unwrap();
    std::fs::copy(
        fixture("mit1003/ALLFIXATIONMAPS/i1000886213_fixMap.jpg"),
        dir.join("maps/a.jpg"),
    )
    .unwrap();
    assert_eq!(load("folder", &dir).unwrap().len(), 1);
    std::fs::copy(
        fixture("mit1003/ALLFIXATIONMAPS/i1000886213_fixMap.jpg"),
        dir.join("maps/b.png"),
    )
    .unwrap();
    let err = load("folder", &dir).unwrap_err().to_string();
    assert!(err.contains("maps/b.png") && err.contains("`b`"), "{err}");
}

#[test]
fn the_osie_layout_takes_image_sizes_from_the_images() {
    // 1024×768 stimuli with OSIE's fixations.mat: most fixations lie beyond 800×600, where a
    // reader assuming OSIE's own size would call them outside.
    let samples = load("osie", &fixture("osie-1024")).unwrap();
    assert_eq!(samples.len(), 2);
    assert!(
        samples
            .iter()
            .all(|s| s.image_size().unwrap() == [1024, 768])
    );
    assert!(
        samples[0]
            .fixations()
            .filter(|f| f.x >= 800.0 || f.y >= 600.0)
            .count()
            > 9
    );
    let summary = absnet_data::check::check(&samples);
    assert_eq!(summary.sizes.get("1024x768"), Some(&2));
    assert_eq!(summary.fixations_outside, 0);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
}

#[test]
fn labels_that_contradict_the_image_size_are_refused() {
    let mut sample = load("osie", &fixture("osie-1024")).unwrap().remove(0);
    sample.labelled_size = Some([800, 600]);
    let err = sample.image_size().unwrap_err().to_string();
    assert!(
        err.contains("crowd1.jpg") && err.contains("1024×768") && err.contains("800×600"),
        "{err}"
    );
    let summary = absnet_data::check::check(&[sample]);
    assert!(
        summary.problems[0].problem.contains("labels say 800×600"),
        "{:?}",
        summary.problems
    );
}
