"""The web console in a real browser (Debian's Chromium driven by Playwright), against a real server.

Flows: create an image, versions with aliases, watch statuses change live, move an alias, see a
failed version's reason, edit, tag, delete; page through 60 images; validation errors inline; hostile
values shown as text; CSRF and cross-site requests refused; ``--auth sigv4`` sign-in with the key's own
account and permissions. What the console did is checked through boto3 as well: one store.

``SAGEMAKER_IMAGES_SCREENSHOTS=docs/console python -m pytest tests/test_console.py -n 0`` refreshes
the screenshots in docs/console/ (desktop and phone width of each page).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import client_for, new_account
from tests.servers import ServerProcess

expect.set_options(timeout=20_000)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = os.environ.get("SAGEMAKER_IMAGES_SCREENSHOTS")
HOSTILE = "<img src=x onerror=\"window.__pwned='{0}'\"><script>window.__pwned='{0}'</script>"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Transitions take a second (to watch them change live); base images named fail-* fail."""
    where = tmp_path_factory.mktemp("console")
    with ServerProcess(
        f"sqlite:///{where / 'state.db'}",
        "--transition-delay",
        "1",
        "--fail-base-images",
        "fail-.*",
        log_path=where / "server.log",
    ) as server:
        yield server


class Console:
    """A browser tab on the console, as one account; records script errors and CSP violations."""

    def __init__(self, page: Page, server: ServerProcess, account: str) -> None:
        self.page = page
        self.server = server
        self.account = account
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console_message)

    def _console_message(self, message) -> None:
        # Chromium reports every answer >= 400 (an API error the page shows) as a console error.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)

    def open(self, path: str = "/console") -> Page:
        self.page.goto(self.server.endpoint + path)
        return self.page

    def shoot(self, name: str) -> None:
        """Screenshots at desktop and phone width (kept when SAGEMAKER_IMAGES_SCREENSHOTS names a
        directory); at phone width nothing may stick out sideways."""
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(viewport)
            if label == "phone":
                width = self.page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{name} is {width}px wide at phone width"
            if SCREENSHOTS:
                Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
                self.page.screenshot(path=f"{SCREENSHOTS}/{name}-{label}.png", full_page=True)
        self.page.set_viewport_size(DESKTOP)


@contextlib.contextmanager
def console_tab(browser, server: ServerProcess) -> Iterator[Console]:
    account = new_account()
    context = browser.new_context(viewport=DESKTOP)
    # The console remembers the account chosen last; start each test in its own.
    context.add_init_script(f"localStorage.setItem('console.account', '{account}')")
    tab = Console(context.new_page(), server, account)
    yield tab
    context.close()
    assert tab.problems == []


@pytest.fixture
def console(browser, console_server: ServerProcess) -> Iterator[Console]:
    with console_tab(browser, console_server) as tab:
        yield tab


@pytest.fixture
def console_on_each_backend(browser, start_server) -> Iterator[Console]:
    """The console of a server of its own, on SQLite and on PostgreSQL."""
    server = start_server("--transition-delay", "1", "--fail-base-images", "fail-.*")
    with console_tab(browser, server) as tab:
        yield tab


def versions_row(page: Page, version: int):
    return page.locator(f"#versions-table tr[data-version='{version}']")


def test_image_lifecycle_through_the_console(console_on_each_backend: Console):
    console = console_on_each_backend
    page = console.open()
    sagemaker = client_for(console.server.endpoint, console.account)
    role = f"arn:aws:iam::{console.account}:role/SageMakerImageRole"
    expect(page.get_by_role("heading", name="Images")).to_be_visible()
    expect(page.locator("#images-table tbody tr")).to_have_count(0)
    expect(page.get_by_text("No images yet")).to_be_visible()

    page.get_by_role("link", name="Create image").click()
    page.get_by_label("Image name", exact=True).fill("team-pytorch")
    page.get_by_label("Display name", exact=True).fill("Team PyTorch")
    page.get_by_label("Description", exact=True).fill("PyTorch with the team's libraries")
    page.get_by_label("IAM role ARN", exact=True).fill(role)
    page.get_by_role("button", name="Add tag").click()
    page.get_by_label("Key", exact=True).fill("team")
    page.get_by_label("Value", exact=True).fill("ml-platform")
    console.shoot("create-image")
    page.get_by_role("button", name="Create image").click()

    # The image page, its status moving from Creating to Created by itself.
    expect(page).to_have_url(re.compile(r"/console/images/team-pytorch$"))
    expect(page.get_by_role("heading", name="team-pytorch", level=1)).to_be_visible()
    status = page.locator("#image-details [data-status]")
    expect(status).to_have_text("Creating")
    expect(status).to_have_text("Created")
    described = sagemaker.describe_image(ImageName="team-pytorch")
    assert (described["DisplayName"], described["RoleArn"]) == ("Team PyTorch", role)
    expect(page.locator("#tags-table")).to_contain_text("ml-platform")

    # Version 1 with two aliases and every member.
    page.get_by_role("link", name="Create image version").click()
    page.get_by_label("Base image", exact=True).fill("python:3.12-slim")
    page.get_by_label("Aliases", exact=True).fill("latest, stable")
    page.get_by_label("Vendor guidance").select_option("STABLE")
    page.get_by_label("Job type").select_option("TRAINING")
    page.get_by_label("Processor").select_option("GPU")
    page.get_by_label("ML framework").fill("PyTorch 2.5")
    page.get_by_label("Programming language").fill("Python 3.12")
    page.get_by_label("Horovod").check()
    page.get_by_label("Release notes").fill("First release")
    console.shoot("create-image-version")
    page.get_by_role("button", name="Create image version").click()
    expect(page).to_have_url(re.compile(r"/console/images/team-pytorch$"))
    row = versions_row(page, 1)
    expect(row.locator("[data-status]")).to_have_text("Creating")
    expect(row.locator("[data-status]")).to_have_text("Created")
    expect(row).to_contain_text("latest")
    expect(row).to_contain_text("stable")
    row.get_by_role("button", name="Details").click()
    details = page.locator("#versions-table .version-more").first
    for text in ("STABLE", "TRAINING", "GPU", "PyTorch 2.5", "Python 3.12", "Yes", "First release"):
        expect(details).to_contain_text(text)
    version = sagemaker.describe_image_version(ImageName="team-pytorch", Alias="stable")
    assert (version["Version"], version["JobType"], version["Horovod"]) == (1, "TRAINING", True)

    # Version 2, then move "stable" to it.
    page.get_by_role("link", name="Create image version").click()
    page.get_by_label("Base image", exact=True).fill("python:3.13-slim")
    page.get_by_role("button", name="Create image version").click()
    expect(versions_row(page, 2).locator("[data-status]")).to_have_text("Created")
    alias_row = page.locator("#aliases-table tr[data-alias='stable']")
    alias_row.get_by_label("Move alias stable to version").select_option("2")
    alias_row.get_by_role("button", name="Move alias").click()
    expect(page.locator("#aliases-table tr[data-alias='stable'] td").nth(1)).to_have_text("Version 2")
    expect(page.locator("#aliases-table tr[data-alias='latest'] td").nth(1)).to_have_text("Version 1")
    assert sagemaker.describe_image_version(ImageName="team-pytorch", Alias="stable")["Version"] == 2
    assert sagemaker.list_aliases(ImageName="team-pytorch", Version=1)["SageMakerImageVersionAliases"] == [
        "latest"
    ]

    # A version whose build fails shows why.
    page.get_by_role("link", name="Create image version").click()
    page.get_by_label("Base image", exact=True).fill("fail-broken:1")
    page.get_by_role("button", name="Create image version").click()
    failed = versions_row(page, 3)
    expect(failed.locator("[data-status]")).to_have_text("Create failed")
    reason = sagemaker.describe_image_version(ImageName="team-pytorch", Version=3)["FailureReason"]
    expect(failed.locator(".failure")).to_have_text(reason)
    console.shoot("image")

    # Update a version: release notes, and an alias added.
    versions_row(page, 2).get_by_role("button", name="Edit").click()
    page.get_by_label("Aliases to add").fill("candidate")
    page.get_by_label("Release notes").fill("Second release")
    page.get_by_role("button", name="Save changes").click()
    expect(versions_row(page, 2)).to_contain_text("candidate")
    assert (
        sagemaker.describe_image_version(ImageName="team-pytorch", Version=2)["ReleaseNotes"]
        == "Second release"
    )

    # Tags: add and remove.
    tags = page.locator("#image-tags")
    tags.get_by_label("Key", exact=True).fill("cost-center")
    tags.get_by_label("Value", exact=True).fill("42")
    tags.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tags-table")).to_contain_text("cost-center")
    page.get_by_role("button", name="Remove tag team").click()
    expect(page.locator("#tags-table")).not_to_contain_text("ml-platform")
    arn = described["ImageArn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "cost-center", "Value": "42"}]

    # Edit the image: a new description; the display name cleared (DeleteProperties).
    page.get_by_role("button", name="Edit", exact=True).first.click()
    page.get_by_label("Display name", exact=True).fill("")
    page.get_by_label("Description", exact=True).fill("Now with CUDA 12")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#image-details")).to_contain_text("Now with CUDA 12")
    described = sagemaker.describe_image(ImageName="team-pytorch")
    assert "DisplayName" not in described and described["Description"] == "Now with CUDA 12"
    expect(page.locator("#image-details [data-status]")).to_have_text("Created")

    # Delete version 2 (confirmed): Deleting, then gone; version 3's base image fails its deletion too.
    versions_row(page, 2).get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete version 2?")
    dialog.get_by_role("button", name="Delete").click()
    expect(versions_row(page, 2).locator("[data-status]")).to_have_text("Deleting")
    expect(versions_row(page, 2)).to_have_count(0)
    versions_row(page, 3).get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(versions_row(page, 3).locator("[data-status]")).to_have_text("Delete failed")
    # Then the image (confirmed by typing its name).
    page.get_by_role("button", name="Delete", exact=True).first.click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Delete")
    expect(confirm).to_be_disabled()
    console.shoot("delete-image")
    dialog.get_by_label('To confirm, type "team-pytorch"').fill("team-pytorch")
    confirm.click()
    expect(page.get_by_text("Image team-pytorch was deleted.")).to_be_visible()
    assert sagemaker.list_images()["Images"] == []
    page.get_by_role("link", name="Back to images").click()
    expect(page.get_by_text("No images yet")).to_be_visible()


def test_paging_sorting_and_search_through_60_images(console: Console):
    sagemaker = client_for(console.server.endpoint, console.account)
    role = f"arn:aws:iam::{console.account}:role/R"
    names = [f"img-{i:02d}" for i in range(60)]
    for name in names:
        sagemaker.create_image(ImageName=name, RoleArn=role, Description=f"Image number {name[-2:]}")
    page = console.open()
    rows = page.locator("#images-table tbody tr")
    next_page = page.get_by_role("button", name="Next page")
    previous_page = page.get_by_role("button", name="Previous page")
    seen: list[str] = []
    for number in (1, 2, 3):
        expect(page.locator(".page-label")).to_have_text(f"Page {number}")
        expect(rows).to_have_count(20)
        seen.extend(rows.locator("td:first-child a").all_inner_texts())
        if number == 1:
            expect(previous_page).to_be_disabled()
            # Badges follow the statuses by themselves (polling while any is CREATING).
            expect(rows.locator("[data-status='CREATED']")).to_have_count(20)
            console.shoot("images")
        if number < 3:
            next_page.click()
    # Newest first, each image once; the last page has no next.
    assert seen == names[::-1]
    expect(next_page).to_be_disabled()
    previous_page.click()
    expect(page.locator(".page-label")).to_have_text("Page 2")
    expect(rows.first.locator("a")).to_have_text("img-39")

    # Sort by name, ascending: a column header toggles the order.
    page.get_by_label("Sort by").select_option("IMAGE_NAME")
    page.get_by_label("Order").select_option("ASCENDING")
    page.get_by_role("button", name="Search").click()
    expect(rows.first.locator("a")).to_have_text("img-00")
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Image name")
    page.get_by_role("button", name="Image name").click()
    expect(rows.first.locator("a")).to_have_text("img-59")

    # Search by name (the API's NameContains).
    page.get_by_label("Search by image name").fill("img-4")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(10)
    assert sorted(rows.locator("td:first-child a").all_inner_texts()) == [f"img-4{i}" for i in range(10)]
    expect(next_page).to_be_disabled()
    # The image page is a link away, and the breadcrumb leads back.
    rows.first.locator("a").click()
    expect(page.get_by_role("heading", name="img-49", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Images").click()
    expect(rows).to_have_count(20)


def test_an_image_with_many_versions_shows_the_newest_and_more_on_request(console: Console):
    sagemaker = client_for(console.server.endpoint, console.account)
    sagemaker.create_image(ImageName="many", RoleArn=f"arn:aws:iam::{console.account}:role/R")
    sagemaker.get_waiter("image_created").wait(ImageName="many", WaiterConfig={"Delay": 1})
    for i in range(30):
        sagemaker.create_image_version(ImageName="many", BaseImage=f"python:3.{i}", Aliases=[f"v{i + 1}"])
    page = console.open("/console/images/many")
    rows = page.locator("#versions-table tr[data-version]")
    expect(rows).to_have_count(25)
    expect(rows.first).to_have_attribute("data-version", "30")
    expect(page.locator("#versions-table [data-status='CREATED']")).to_have_count(25)
    # v1 names version 1, not among those shown: the page says so rather than guess.
    expect(page.locator("#aliases-table tr[data-alias='v1'] td").nth(1)).to_have_text("An older version")
    page.get_by_role("button", name="Show more versions").click()
    expect(rows).to_have_count(30)
    expect(rows.last).to_have_attribute("data-version", "1")
    expect(page.locator("#aliases-table tr[data-alias='v1'] td").nth(1)).to_have_text("Version 1")


def test_a_versions_tags_are_added_and_removed_in_its_details(console: Console):
    sagemaker = client_for(console.server.endpoint, console.account)
    sagemaker.create_image(ImageName="tagged", RoleArn=f"arn:aws:iam::{console.account}:role/R")
    sagemaker.get_waiter("image_created").wait(ImageName="tagged", WaiterConfig={"Delay": 1})
    arn = sagemaker.create_image_version(ImageName="tagged", BaseImage="python:3.12")["ImageVersionArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "beta"}])
    page = console.open("/console/images/tagged")
    versions_row(page, 1).get_by_role("button", name="Details").click()
    version_tags = page.locator(".version-tags")
    expect(version_tags.locator("#version-1-tags")).to_contain_text("beta")
    version_tags.get_by_label("Key", exact=True).fill("owner")
    version_tags.get_by_label("Value", exact=True).fill("ml-platform")
    version_tags.get_by_role("button", name="Add tag").click()
    expect(version_tags.locator("#version-1-tags")).to_contain_text("ml-platform")
    version_tags.get_by_role("button", name="Remove tag stage").click()
    expect(version_tags.locator("#version-1-tags")).not_to_contain_text("beta")
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "ml-platform"}]
    # The image's own tags are another resource's.
    image_arn = sagemaker.describe_image(ImageName="tagged")["ImageArn"]
    assert sagemaker.list_tags(ResourceArn=image_arn)["Tags"] == []
    expect(page.locator("#image-tags")).to_contain_text("No tags.")
    # A bad key is AWS's validation error, inline in the version's form.
    version_tags.get_by_label("Key", exact=True).fill("bad<key>")
    version_tags.get_by_role("button", name="Add tag").click()
    expect(version_tags.locator("[role=alert]")).to_contain_text("at 'tags.1.member.key'")


def test_validation_errors_are_shown_inline_in_aws_words(console: Console):
    page = console.open("/console/create-image")
    page.get_by_label("Image name", exact=True).fill("bad_name")
    page.get_by_label("IAM role ARN", exact=True).fill("not-an-arn")
    page.get_by_role("button", name="Create image").click()
    alert = page.locator("form [role=alert]")
    expect(alert).to_contain_text("validation errors detected")
    expect(alert).to_contain_text("Value 'bad_name' at 'imageName' failed to satisfy constraint")
    name = page.get_by_label("Image name", exact=True)
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("IAM role ARN", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#" + name.get_attribute("id") + "-error")).to_contain_text("at 'imageName'")
    expect(name).to_be_focused()
    console.shoot("validation-error")
    # Fixed, it goes through; an existing name is AWS's ResourceInUse, inline too.
    client_for(console.server.endpoint, console.account).create_image(
        ImageName="taken", RoleArn=f"arn:aws:iam::{console.account}:role/R"
    )
    name.fill("taken")
    page.get_by_label("IAM role ARN", exact=True).fill(f"arn:aws:iam::{console.account}:role/R")
    page.get_by_role("button", name="Create image").click()
    expect(alert).to_contain_text("ResourceInUse")
    expect(alert).to_contain_text("The Image with ImageName taken already exists")
    expect(name).not_to_have_attribute("aria-invalid", "true")
    # A version of a missing base image member and a bad alias: the API's messages, inline.
    page.goto(console.server.endpoint + "/console/images/taken/create-version")
    page.get_by_label("Aliases", exact=True).fill("-not-valid-")
    page.get_by_role("button", name="Create image version").click()
    expect(alert).to_contain_text("at 'baseImage'")
    expect(alert).to_contain_text("Value '-not-valid-' at 'aliases.1.member'")
    expect(page.get_by_label("Base image", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Aliases", exact=True)).to_have_attribute("aria-invalid", "true")
    # The search box: NameContains has a pattern too.
    page.goto(console.server.endpoint + "/console?name=a%20b")
    expect(page.locator("form[role=search] [role=alert]")).to_contain_text("at 'nameContains'")


def test_hostile_values_are_rendered_as_text(console: Console):
    marker = uuid.uuid4().hex[:8]
    hostile = HOSTILE.format(marker)
    sagemaker = client_for(console.server.endpoint, console.account)
    role = f"arn:aws:iam::{console.account}:role/R"
    sagemaker.create_image(ImageName="hostile", RoleArn=role, DisplayName=hostile, Description=hostile)
    arn = sagemaker.describe_image(ImageName="hostile")["ImageArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "note", "Value": "a=b+c:/@_-"}])
    # A failure reason quotes the base image it could not pull: user input too.
    sagemaker.get_waiter("image_created").wait(ImageName="hostile", WaiterConfig={"Delay": 1})
    sagemaker.create_image_version(ImageName="hostile", BaseImage=f"fail-{hostile}", Aliases=["x"])
    page = console.open()
    row = page.locator("#images-table tbody tr").first
    expect(row).to_contain_text(hostile)
    page.get_by_role("link", name="hostile").click()
    expect(page.locator("#image-details")).to_contain_text(hostile)
    failed = versions_row(page, 1)
    expect(failed.locator("[data-status]")).to_have_text("Create failed")
    expect(failed.locator(".failure")).to_contain_text(f"fail-{hostile}")
    expect(failed).to_contain_text(f"fail-{hostile}")  # the base image column
    # A hostile name and tag value never reach the store, but their error messages echo them.
    tags = page.locator("#image-tags")
    tags.get_by_label("Key", exact=True).fill(hostile[:120])
    tags.get_by_label("Value", exact=True).fill(hostile)
    tags.get_by_role("button", name="Add tag").click()
    expect(tags.locator("[role=alert]")).to_contain_text("<img src=x")
    page.goto(console.server.endpoint + "/console/create-image")
    page.get_by_label("Image name", exact=True).fill(hostile[:60])
    page.get_by_label("IAM role ARN", exact=True).fill(role)
    page.get_by_role("button", name="Create image").click()
    expect(page.locator("form [role=alert]")).to_contain_text("<img src=x")
    # Nothing ran and no element was made from the values.
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0
    page.goto(console.server.endpoint + "/console/images/hostile")
    expect(page.locator("#image-details")).to_contain_text(hostile)
    console.shoot("hostile-values")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, main script").count() == 0


def test_phone_width_pages_fit_and_work(console: Console):
    sagemaker = client_for(console.server.endpoint, console.account)
    sagemaker.create_image(ImageName="phone", RoleArn=f"arn:aws:iam::{console.account}:role/R")
    page = console.open()
    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="phone").click()
    expect(page.locator("#image-details [data-status]")).to_have_text("Created")
    page.get_by_role("link", name="Create image version").click()
    page.get_by_label("Base image", exact=True).fill("python:3.12")
    page.get_by_label("Aliases", exact=True).fill("latest")
    page.get_by_role("button", name="Create image version").click()
    expect(versions_row(page, 1).locator("[data-status]")).to_have_text("Created")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Keyboard only: Tab reaches the page's controls, Enter follows a link.
    page.reload()
    expect(page.locator("#image-details [data-status]")).to_have_text("Created")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    page.get_by_role("link", name="Create image version").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Create image version")).to_be_visible()
    page.set_viewport_size(DESKTOP)


def console_session(server: ServerProcess) -> tuple[str, str]:
    """A fresh console session as a browser would get it: its cookie and the page's CSRF token."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/console")
    response = conn.getresponse()
    body = response.read().decode()
    cookie = response.getheader("set-cookie").split(";", 1)[0]
    assert "HttpOnly" in response.getheader("set-cookie") and "SameSite=Strict" in response.getheader(
        "set-cookie"
    )
    csp = response.getheader("content-security-policy")
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    token = re.search(r'data-csrf="([^"]+)"', body).group(1)
    conn.close()
    return cookie, token


def console_call(
    server: ServerProcess, operation: str, body: dict, headers: dict[str, str]
) -> tuple[int, dict, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST",
        "/console/api",
        body=json.dumps(body),
        headers={
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            **headers,
        },
    )
    response = conn.getresponse()
    data = response.read()
    answer = (
        response.status,
        json.loads(data) if data else {},
        {k.lower(): v for k, v in response.getheaders()},
    )
    conn.close()
    return answer


def test_csrf_and_cross_site_requests_are_refused(console_server: ServerProcess, browser):
    account = new_account()
    role = f"arn:aws:iam::{account}:role/R"
    cookie, token = console_session(console_server)
    _, other_token = console_session(console_server)
    create = {"ImageName": "csrf", "RoleArn": role}
    base = {"X-Console-Account": account, "Host": f"127.0.0.1:{console_server.port}"}
    refused = [
        ({**base, "Cookie": cookie}, 403, "InvalidCsrfToken"),  # no token
        ({**base, "Cookie": cookie, "X-CSRF-Token": "x" + token[1:]}, 403, "InvalidCsrfToken"),  # forged
        (
            {**base, "Cookie": cookie, "X-CSRF-Token": other_token},
            403,
            "InvalidCsrfToken",
        ),  # another session's
        ({**base, "X-CSRF-Token": token}, 401, "NotSignedIn"),  # no session
        ({**base, "Cookie": cookie + "x", "X-CSRF-Token": token}, 401, "NotSignedIn"),  # tampered session
        (
            {**base, "Cookie": cookie, "X-CSRF-Token": token, "Origin": "http://evil.example"},
            403,
            "InvalidCsrfToken",
        ),
        (
            {**base, "Cookie": cookie, "X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
            403,
            "InvalidCsrfToken",
        ),
        # An SDK's signature alone opens no console door.
        (
            {
                **base,
                "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/sagemaker/aws4_request, "
                "SignedHeaders=host, Signature=00",
            },
            401,
            "NotSignedIn",
        ),
    ]
    for headers, status, code in refused:
        answer = console_call(console_server, "CreateImage", create, headers)
        message = answer[1]["message"]
        assert answer[:2] == (status, {"__type": code, "message": message, "Message": message}), headers
        assert "default-src 'none'" in answer[2]["content-security-policy"]
    sagemaker = client_for(console_server.endpoint, account)
    assert sagemaker.list_images()["Images"] == []
    # With its own session and token, the same request is an ordinary API call, errors included.
    ok = {
        **base,
        "Cookie": cookie,
        "X-CSRF-Token": token,
        "Origin": f"http://127.0.0.1:{console_server.port}",
    }
    assert console_call(console_server, "CreateImage", create, ok)[0] == 200
    assert console_call(console_server, "CreateImage", create, ok)[1]["__type"] == "ResourceInUse"
    assert (
        console_call(console_server, "CreateImage", {"ImageName": "x"}, ok)[1]["__type"]
        == "ValidationException"
    )
    assert console_call(console_server, "ListImages", {}, {**ok, "X-Console-Account": "12"})[0] == 400
    assert console_call(console_server, "ListImages", {}, {**ok, "X-Console-Region": "../x"})[0] == 400
    assert [i["ImageName"] for i in sagemaker.list_images()["Images"]] == ["csrf"]
    # The console calls only the SageMaker API.
    conn = http.client.HTTPConnection("127.0.0.1", console_server.port, timeout=30)
    conn.request(
        "POST",
        "/console/api",
        body="{}",
        headers={**ok, "X-Amz-Target": "CloudApiService.ListResources"},
    )
    assert conn.getresponse().status == 400
    conn.close()

    # In a browser: a page of another origin cannot call the console (no cookie, no token).
    other_origin = f"http://localhost:{console_server.port}"
    context = browser.new_context()
    page = context.new_page()
    page.goto(console_server.endpoint + "/console")
    page.goto(other_origin + "/_health")  # any page of another origin (without the console's CSP)
    status = page.evaluate(
        """async (url) => {
            try {
              const r = await fetch(url, {method: "POST", credentials: "include", mode: "no-cors",
                headers: {"Content-Type": "text/plain"}, body: "{}"});
              return r.type;
            } catch (error) { return "blocked"; }
        }""",
        console_server.endpoint + "/console/api",
    )
    # Sent without the SameSite=Strict cookie and refused; its answer is not even readable.
    assert status in ("opaque", "blocked")
    assert [i["ImageName"] for i in sagemaker.list_images()["Images"]] == ["csrf"]
    # Inline script is refused by the Content-Security-Policy.
    page.goto(console_server.endpoint + "/console")
    ran = page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
                   document.body.append(s); return window.__inline === 1; }"""
    )
    assert ran is False
    context.close()


CREDENTIALS = """
[keys.AKIACONSOLEADMIN0001]
secret = "admin-secret-{marker}"
account = "{admin}"
user = "console-admin"

[keys.AKIACONSOLEREADER001]
secret = "reader-secret-{marker}"
account = "{reader}"
allow = ["sagemaker:Describe*", "sagemaker:List*"]
"""


def test_sigv4_console_signs_in_with_a_key_and_acts_with_its_permissions(browser, tmp_path):
    marker = uuid.uuid4().hex[:8]
    admin, reader = new_account(), new_account()
    credentials = tmp_path / "keys.toml"
    credentials.write_text(CREDENTIALS.format(marker=marker, admin=admin, reader=reader))
    log = tmp_path / "server.log"
    with ServerProcess(
        f"sqlite:///{tmp_path / 'state.db'}",
        "--auth",
        "sigv4",
        "--credentials",
        str(credentials),
        "--log-format",
        "json",
        log_path=log,
    ) as server:
        context = browser.new_context(viewport=DESKTOP)
        tab = Console(context.new_page(), server, admin)
        page = tab.open()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("null")  # no optional part printed as text
        page.get_by_label("Access key ID").fill("AKIACONSOLEADMIN0001")
        page.get_by_label("Secret access key").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("form [role=alert]")).to_contain_text(
            "The security token included in the request is invalid."
        )
        tab.shoot("sign-in")
        page.get_by_label("Secret access key").fill(f"admin-secret-{marker}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#account-id")).to_have_text(admin)
        expect(page.locator("#identity")).to_contain_text("console-admin")
        page.get_by_role("link", name="Create image").click()
        page.get_by_label("Image name", exact=True).fill("signed")
        page.get_by_label("IAM role ARN", exact=True).fill(f"arn:aws:iam::{admin}:role/R")
        page.get_by_role("button", name="Create image").click()
        expect(page.locator("#image-details [data-status]")).to_have_text("Created")
        # Another region is another tenant: nothing there.
        page.get_by_label("Region").select_option("eu-west-1")
        expect(page.get_by_text("No images yet")).to_be_visible()
        page.get_by_label("Region").select_option("us-east-1")
        expect(page.locator("#images-table tbody tr")).to_have_count(1)
        cookies = context.cookies()
        assert all(marker not in c["value"] and "AKIA" not in c["value"] for c in cookies)
        assert all(c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        # The read-only key sees its own account only, and may not create.
        page.get_by_label("Access key ID").fill("AKIACONSOLEREADER001")
        page.get_by_label("Secret access key").fill(f"reader-secret-{marker}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#account-id")).to_have_text(reader)
        expect(page.get_by_text("No images yet")).to_be_visible()
        page.get_by_role("link", name="Create image").click()
        page.get_by_label("Image name", exact=True).fill("denied")
        page.get_by_label("IAM role ARN", exact=True).fill(f"arn:aws:iam::{reader}:role/R")
        page.get_by_role("button", name="Create image").click()
        alert = page.locator("form [role=alert]")
        expect(alert).to_contain_text("AccessDeniedException")
        expect(alert).to_contain_text("is not authorized to perform: sagemaker:CreateImage")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert tab.problems == []
        context.close()
    # No secret in the logs, and no access key in any logged URL.
    text = log.read_text()
    assert marker not in text
    assert all(
        "AKIA" not in json.loads(line).get("path", "") for line in text.splitlines() if line.startswith("{")
    )


def test_console_endpoints_refuse_bad_requests_without_a_500(console_server: ServerProcess):
    cookie, token = console_session(console_server)
    good = {"Cookie": cookie, "X-CSRF-Token": token}
    cases = [
        ("POST", "/console/login", b"not json", good),
        ("POST", "/console/login", b"[1, 2]", good),
        ("POST", "/console/login", b'{"AccessKeyId": 1, "SecretAccessKey": null}', good),
        ("POST", "/console/logout", b"", {"Cookie": cookie}),
        ("POST", "/console/api", b"{", {**good, "X-Amz-Target": "SageMaker.ListImages"}),
        ("POST", "/console/api", b"{}", {**good, "X-Amz-Target": "nodot"}),
        ("POST", "/console/api", b"{}", {**good, "X-Amz-Target": "SageMaker.DeleteEverything"}),
        (
            "POST",
            "/console/api",
            b"{}",
            {**good, "X-Amz-Target": "SageMaker.ListImages", "X-Console-Region": "é"},
        ),
        ("POST", "/console/api", b"x" * 2_000_000, {**good, "X-Amz-Target": "SageMaker.ListImages"}),
        ("GET", "/console/api", None, good),
        ("PUT", "/console/images/x", b"{}", good),
        ("DELETE", "/console/static/console.css", None, good),
        ("GET", "/console/static/../../pyproject.toml", None, {}),
        ("GET", "/console/static/shell.html", None, {}),
        ("GET", "/console", None, {"Cookie": "sagemaker_images_console=v1.eyJrIjogMX0.x"}),
        ("GET", "/console", None, {"Cookie": "sagemaker_images_console=" + "A" * 4000}),
    ]
    for method, path, body, headers in cases:
        conn = http.client.HTTPConnection("127.0.0.1", console_server.port, timeout=30)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        assert 200 <= response.status < 500, (method, path, response.status, data[:200])
        assert b"Traceback" not in data and b"[project]" not in data
        if response.status >= 400:
            assert set(json.loads(data)) == {"__type", "message", "Message"}, (method, path, data[:200])
