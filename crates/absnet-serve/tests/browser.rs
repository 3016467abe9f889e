//! The web page in a real headless browser (Debian's Chromium driven over WebDriver by
//! chromedriver): open the page, upload the sample photo through the file input, wait for the
//! heatmap, check the crop boxes and peaks are drawn, and save screenshots (desktop and phone
//! width) in `target/serve-page/`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// chromedriver on a free port, stopped when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn driver() -> Option<Driver> {
    let chromedriver = absnet_testkit::required(
        PathBuf::from("/usr/bin/chromedriver"),
        "install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Driver(child, port))
}

fn capabilities() -> serde_json::Map<String, serde_json::Value> {
    let options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900"]
    });
    serde_json::Map::from_iter([("goog:chromeOptions".to_string(), options)])
}

#[test]
fn the_page_shows_the_heatmap_crop_boxes_and_peaks_of_an_uploaded_photo() {
    let Some(driver) = driver() else { return };
    let server = Server::start(batching(), limits());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(drive(&driver, &server));
}

async fn drive(driver: &Driver, server: &Server) {
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities())
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("chromium starts");
    let shots = repo().join("target/serve-page");
    std::fs::create_dir_all(&shots).unwrap();
    client.goto(&server.url("/")).await.unwrap();
    let photo = repo().join("samples/chelsea.png").canonicalize().unwrap();
    client
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = client
            .execute("return document.body.dataset.state || ''", vec![])
            .await
            .unwrap();
        match state.as_str().unwrap_or_default() {
            "done" => break,
            "error" => panic!(
                "the page reports: {}",
                client
                    .find(Locator::Css("#error"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            ),
            _ => {}
        }
        assert!(Instant::now() < deadline, "no heatmap within a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let width = client
        .execute("return document.getElementById('overlay').width", vec![])
        .await
        .unwrap();
    assert_eq!(
        width.as_u64(),
        Some(451),
        "the heatmap is drawn at the photo's size"
    );
    let boxes = client
        .find_all(Locator::Css("rect.crop-box"))
        .await
        .unwrap();
    let mut aspects = Vec::new();
    for b in &boxes {
        aspects.push(b.attr("data-aspect").await.unwrap().unwrap());
    }
    assert_eq!(aspects, ["1:1", "16:9", "9:16"]);
    assert_eq!(
        client
            .find_all(Locator::Css("circle.peak"))
            .await
            .unwrap()
            .len(),
        5
    );
    let mut panels = Vec::new();
    for id in ["#aesthetics", "#quality"] {
        let panel = client.find(Locator::Css(id)).await.unwrap();
        panels.push(panel.text().await.unwrap());
    }
    let [aesthetics, quality] = <[String; 2]>::try_from(panels).unwrap();
    assert!(
        aesthetics.contains("no trained aesthetics head"),
        "{aesthetics}"
    );
    assert!(
        quality.contains("/ 100") && quality.contains("LIVE-C"),
        "{quality}"
    );
    std::fs::write(
        shots.join("desktop.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    // At phone width the panel moves under the photo and nothing is cut off.
    client.set_window_size(390, 844).await.unwrap();
    let overflow = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow.as_bool(),
        Some(true),
        "no sideways scrolling at phone width"
    );
    std::fs::write(shots.join("phone.png"), client.screenshot().await.unwrap()).unwrap();
    client.close().await.unwrap();
}
