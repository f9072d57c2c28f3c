"""The harness's own browser: what it leaves behind."""

import os

import pytest
from harness import start_chromium

pytestmark = pytest.mark.browser


def test_a_browser_that_quits_takes_its_profile_with_it():
    driver = start_chromium()
    profile = driver.profile
    driver.get("about:blank")
    assert os.listdir(profile), "Chromium wrote nothing to the profile it was given"
    driver.quit()
    assert not os.path.exists(profile), f"{profile} was left behind"
