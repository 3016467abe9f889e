//! The readers on the real data in ../shared/data. Counts read independently with scipy /
//! Python's json (see each test) are written here.

use absnet_data::{DatasetSpec, check};

fn load(spec: &str, folder: &str) -> Option<Vec<absnet_data::Sample>> {
    let root = absnet_testkit::shared_data(folder)?;
    let spec: DatasetSpec = format!("{spec}:{}", root.display()).parse().unwrap();
    Some(spec.load().unwrap())
}

#[test]
fn osie_has_700_images_of_15_observers() {
    let Some(samples) = load("osie", "osie") else {
        return;
    };
    assert_eq!(samples.len(), 700);
    assert!(
        samples
            .iter()
            .all(|s| s.observers.len() == 15 && s.labelled_size.is_none())
    );
    assert!(
        samples.iter().all(|s| s.sigma == Some(24.0)),
        "the authors' σ travels with the samples"
    );
    // scipy.io.loadmat(fixations.mat): Σ len(fix_x) over 700 × 15 subjects = 98,321.
    let total: usize = samples.iter().map(|s| s.fixations().count()).sum();
    assert_eq!(total, 98_321);
    assert_eq!(samples[0].id, "1001");
    assert!(samples[0].image.ends_with("data/stimuli/1001.jpg"));
    // The first fixation of the first subject: fix_x = 395.5 (1-based) → x = 394.5.
    assert_eq!(samples[0].observers[0].fixations[0].x, 394.5);
    let summary = check::check(&samples);
    assert_eq!(summary.sizes.get("800x600"), Some(&700));
    assert_eq!(summary.observers_without_fixations, 0);
}

#[test]
fn scene_has_500_images_with_empty_cells() {
    let Some(samples) = load("scene", "scene") else {
        return;
    };
    assert_eq!(samples.len(), 500);
    assert!(samples.iter().all(|s| s.observers.len() == 12));
    // scipy: 52 of the 500 × 12 cells are empty; the others hold 43,894 rows.
    let empty: usize = samples
        .iter()
        .map(|s| {
            s.observers
                .iter()
                .filter(|o| o.fixations.is_empty())
                .count()
        })
        .sum();
    assert_eq!(empty, 52);
    assert_eq!(
        samples.iter().map(|s| s.fixations().count()).sum::<usize>(),
        43_894
    );
    // Row 1 of fixations{1,1} is [118.47, 49.78, 0.334, 0.134]: [y, x, onset s, duration s].
    let first = samples[0].observers[0].fixations[0];
    assert!((first.y - 118.471_111).abs() < 1e-5 && (first.x - 49.777_778).abs() < 1e-5);
    assert!((first.duration_ms.unwrap() - 134.0).abs() < 1e-9);
    let summary = check::check(&samples);
    assert_eq!(summary.sizes.get("256x256"), Some(&311));
    // Every labelled size matches the JPEG header.
    assert!(
        summary
            .problems
            .iter()
            .all(|p| !p.problem.contains("labels say")),
        "{:?}",
        summary.problems
    );
}

#[test]
fn salicon_sample_has_10_images() {
    let Some(samples) = load("salicon2015", "salicon-examples") else {
        return;
    };
    assert_eq!(samples.len(), 10);
    // json: 610 annotations (workers) with 73,630 fixations in all.
    assert_eq!(
        samples.iter().map(|s| s.observers.len()).sum::<usize>(),
        610
    );
    assert_eq!(
        samples.iter().map(|s| s.fixations().count()).sum::<usize>(),
        73_630
    );
    let summary = check::check(&samples);
    assert_eq!(summary.sizes.get("640x480"), Some(&10));
    assert!(samples.iter().all(|s| s.image.exists()));
}

#[test]
fn mit1003_in_the_fixatons_layout_has_1003_images_of_15_observers() {
    let Some(samples) = load("fixatons", "mit1003") else {
        return;
    };
    // Counted independently (Python over the text files, sizes from the JPEG headers).
    assert_eq!(samples.len(), 1003);
    assert!(samples.iter().all(|s| s.observers.len() == 15));
    let summary = check::check(&samples);
    assert_eq!((summary.images, summary.observers), (1003, 15_045));
    assert_eq!(summary.fixations, 119_432);
    assert_eq!(summary.fixations_outside, 243);
    assert_eq!(summary.sizes.get("1024x768"), Some(&463));
    assert_eq!(summary.sizes.get("768x1024"), Some(&123));
    assert_eq!(summary.sizes.len(), 142);
    // Only the fixations outside their images are problems.
    assert!(
        summary
            .problems
            .iter()
            .all(|p| p.problem.contains("outside")),
        "{:?}",
        summary.problems
    );
    // The first file: `499 378 0.004 0.338`, a central start fixation.
    let first = samples[0].observers[0].fixations[0];
    assert_eq!((first.x, first.y), (499.0, 378.0));
    assert!((first.duration_ms.unwrap() - 334.0).abs() < 1e-9);
    // Dropping each scanpath's first row removes one fixation per non-empty scanpath.
    let root = absnet_testkit::shared_data("mit1003").unwrap();
    let spec: DatasetSpec = format!("fixatons:{}?first_fixation=drop&sigma=35", root.display())
        .parse()
        .unwrap();
    let dropped = spec.load().unwrap();
    let scanpaths = samples
        .iter()
        .flat_map(|s| &s.observers)
        .filter(|o| !o.fixations.is_empty())
        .count();
    assert_eq!(
        dropped.iter().map(|s| s.fixations().count()).sum::<usize>(),
        119_432 - scanpaths
    );
    assert_eq!(dropped[0].observers[0].fixations[0].x, 502.0);
    assert!(dropped.iter().all(|s| s.sigma == Some(35.0)));
    assert_eq!(
        spec.to_string(),
        format!("fixatons:{}?sigma=35&first_fixation=drop", root.display())
    );
}

#[test]
fn unknown_formats_and_missing_folders_are_named() {
    let err = "mit300:/data"
        .parse::<DatasetSpec>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("mit300") && err.contains("osie"), "{err}");
    let err = "no-colon".parse::<DatasetSpec>().unwrap_err().to_string();
    assert!(err.contains("FORMAT:PATH"), "{err}");
    let err = "osie:/data?first_fixation=drop"
        .parse::<DatasetSpec>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("first_fixation=drop") && err.contains("not an option of `osie`"),
        "{err}"
    );
    let err = "fixatons:/data?sigma=-3"
        .parse::<DatasetSpec>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("sigma = `-3`"), "{err}");
    let spec: DatasetSpec = "osie:/definitely/missing".parse().unwrap();
    assert!(
        spec.load()
            .unwrap_err()
            .to_string()
            .contains("/definitely/missing")
    );
}
