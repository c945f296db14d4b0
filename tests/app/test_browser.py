"""The app in a real browser: headless Debian Chromium driven by Selenium against ``signlang app``.

Uploads ../shared/data/videos/FOOTBALL.mp4 on the Predict page against a small trained run, sees a
prediction and the extracted skeleton, then opens Runs and sees the run in the table. Screenshots of
each page go to the test's temp folder. Skips, saying why, where no browser is installed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import SHARED, local_server

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="no chromium / chromedriver (Debian: apt-get install chromium chromium-driver)",
    ),
    pytest.mark.skipif(not (SHARED / "videos").is_dir(), reason="../shared/data/videos is not available"),
]


def patient(driver, timeout: float):
    """A WebDriverWait that also tries again when Streamlit re-renders an element between finding it and
    reading it (StaleElementReferenceException: it once failed CI)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


@pytest.fixture
def app_url(trained_run, tmp_path):
    pytest.importorskip("streamlit")

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "signlang", "app", str(trained_run["run"].parent), "--port", str(port)]

    with local_server(command, "/_stcore/health", tmp_path / "app.log") as url:
        yield url


def chromium(tmp_path: Path, *flags: str):
    """Headless Debian Chromium under the installed chromedriver (nothing downloaded)."""
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path / 'chromium'}",
        *flags,
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path)
    yield driver
    driver.quit()


def write_y4m(video: Path, target: Path, repeat: int, size: tuple[int, int] = (360, 480)) -> Path:
    """A video as the raw YUV4MPEG2 file Chromium's fake camera plays (in a loop), ``repeat`` times over."""
    import cv2

    from signlang.core.video import read_video

    frames = read_video(video, 30.0).frames
    with open(target, "wb") as f:
        f.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in list(frames) * repeat:
            f.write(b"FRAME\n" + cv2.cvtColor(cv2.resize(frame, size), cv2.COLOR_RGB2YUV_I420).tobytes())
    return target


@pytest.fixture
def camera_browser(tmp_path):
    """A browser whose camera films test_video.mp4: one signer, hands down before and after the sign."""
    clip = write_y4m(SHARED / "videos" / "test_video.mp4", tmp_path / "camera.y4m", repeat=3)
    flags = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    driver = chromium(tmp_path, *flags, f"--use-file-for-fake-video-capture={clip}")
    yield driver
    driver.quit()


def wait_for_text(driver, text: str, timeout: float = 120) -> None:
    from selenium.webdriver.common.by import By

    patient(driver, timeout).until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def wait_for_element(driver, by: str, selector: str, timeout: float = 60):
    """The page's element once it is there (under load, widgets render after the page's heading)."""

    return patient(driver, timeout).until(lambda d: (d.find_elements(by, selector) or [None])[0])


def wait_for_images(driver, count: int, timeout: float = 60) -> None:
    """Until ``count`` of the page's images (st.image) have loaded and have pixels."""

    script = (
        "return Array.from(document.querySelectorAll('[data-testid=\"stImage\"] img'))"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    patient(driver, timeout).until(lambda d: d.execute_script(script) >= count)


def open_page(driver, name: str) -> None:
    from selenium.webdriver.common.by import By

    xpath = f"//section[@data-testid='stSidebar']//label[.//p[text()='{name}']]"
    labels = patient(driver, 60).until(lambda d: d.find_elements(By.XPATH, xpath))  # the sidebar renders after the body
    driver.execute_script("arguments[0].click()", labels[0])  # the radio's own overlay would take a plain click
    headings = "[data-testid='stHeading']"  # st.header: the page's own heading
    patient(driver, 60).until(lambda d: any(h.text.strip() == name for h in d.find_elements(By.CSS_SELECTOR, headings)))


def test_upload_a_video_see_the_prediction_and_the_skeleton_then_the_run_table(app_url, browser, trained_run, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(app_url)
    wait_for_text(browser, "Runs")
    open_page(browser, "Predict")
    wait_for_text(browser, "a video or a .npz clip")
    upload = wait_for_element(browser, By.CSS_SELECTOR, "input[type='file']")
    upload.send_keys(str(SHARED / "videos" / "FOOTBALL.mp4"))
    wait_for_text(browser, "extracted skeleton", timeout=240)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "SIGN " in body and "category:" in body  # the top-5 glosses and the category, by name
    wait_for_images(browser, 1)  # the skeleton animation, decoded by the browser
    video = "const v = document.querySelector('video'); return v !== null && v.readyState >= 1"
    patient(browser, 60).until(lambda d: d.execute_script(video))  # served after its upload folder is gone
    browser.save_screenshot(str(tmp_path / "predict.png"))

    open_page(browser, "Runs")
    wait_for_text(browser, "One run")
    grid = wait_for_element(browser, By.CSS_SELECTOR, "[data-testid='stDataFrame']")  # the Runs table: a grid
    script = (
        "return Array.from(arguments[0].querySelectorAll('[role=gridcell], [role=columnheader]')).map(c => c.innerText)"
    )
    cells = patient(browser, 60).until(
        lambda d: d.execute_script(script, grid)
    )  # drawn on a canvas: its accessible cells
    assert "run" in cells and "finished" in cells
    assert cells.index("test gloss") < cells.index("overrides")  # the numbers before what the runs differ in
    assert grid.size["height"] < 120  # a header and one row, on one line each (no letter-by-letter wrapping)
    browser.save_screenshot(str(tmp_path / "runs.png"))

    open_page(browser, "Clips")
    folder = wait_for_element(browser, By.XPATH, "//input[@aria-label='folder of .npz clips']")
    folder.send_keys(str(trained_run["data"] / "keypoints_train"))
    folder.send_keys("\n")
    wait_for_text(browser, "wrist trajectories")
    wait_for_images(browser, 2)  # the animation and the current frame
    browser.save_screenshot(str(tmp_path / "clips.png"))
    for page in ("predict", "runs", "clips"):
        assert (tmp_path / f"{page}.png").stat().st_size > 20_000  # real content, not a blank page
    if os.environ.get("SIGNLANG_SCREENSHOTS"):  # for the README: SIGNLANG_SCREENSHOTS=docs pytest tests/app
        for page in ("predict", "runs", "clips"):
            shutil.copy(tmp_path / f"{page}.png", Path(os.environ["SIGNLANG_SCREENSHOTS"]) / f"app_{page}_full.png")


def test_the_camera_page_reads_signs_as_they_are_made(app_url, camera_browser, tmp_path):
    """Predict -> the camera: a fake camera plays a real signer; the skeleton is drawn over the
    picture the page shows, and the sign is listed (the run knows none of it: unknown or a gloss)."""
    from selenium.webdriver.common.by import By

    browser = camera_browser
    browser.get(app_url)
    wait_for_text(browser, "Runs")
    open_page(browser, "Predict")
    choice = wait_for_element(browser, By.XPATH, "//label[.//p[text()='the camera']]")
    browser.execute_script("arguments[0].click()", choice)
    frame = wait_for_element(browser, By.CSS_SELECTOR, "iframe[title*='streamlit_webrtc']", timeout=90)
    browser.switch_to.frame(frame)
    start = patient(browser, 60).until(
        lambda d: next((b for b in d.find_elements(By.TAG_NAME, "button") if b.text.strip().upper() == "START"), None)
    )
    start.click()
    patient(browser, 60).until(  # the picture comes back from the server, drawn on
        lambda d: d.execute_script("const v = document.querySelector('video'); return v && v.videoWidth > 0")
    )
    browser.switch_to.default_content()
    wait_for_text(browser, "frames read", timeout=120)
    patient(browser, 120).until(
        lambda d: (
            "1 sign(s)" in d.find_element(By.TAG_NAME, "body").text
            or "2 sign(s)" in d.find_element(By.TAG_NAME, "body").text
        )
    )
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "answered after (s)" in body and ("unknown" in body or "SIGN " in body)  # the signs' table
    print(body[body.index("answered after") - 200 :])  # for the record (pytest -s): the latencies the page saw
    browser.save_screenshot(str(tmp_path / "camera.png"))
    assert (tmp_path / "camera.png").stat().st_size > 20_000
    if os.environ.get("SIGNLANG_SCREENSHOTS"):
        shutil.copy(tmp_path / "camera.png", Path(os.environ["SIGNLANG_SCREENSHOTS"]) / "app_camera.png")
