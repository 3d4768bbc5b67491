"""Templates (issue 4 point 4): `boxd template create|list|delete` and
`boxd box create NAME --template T` with config overrides."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boxdtest import Suite, expect, expect_equal  # noqa: E402

suite = Suite(__file__)

GiB = 1 << 30


@suite.test
def create_list_delete(t):
    doc = t.alice.run("template", "create", "small", "--vcpu", "1", "--memory", "4G",
                      "--disk", "20G", "--json").expect_ok().json()
    expect_equal(doc.get("name"), "small", "name")
    expect(doc.get("template_id"), f"no template_id: {doc!r}")
    expect_equal(doc.get("image_ref"), "host", "image_ref (the default image)")
    expect_equal(doc["config"].get("vcpu"), 1, "config.vcpu")
    expect_equal(doc["config"].get("memory_bytes"), 4 * GiB, "config.memory_bytes (a JSON number)")
    expect(isinstance(doc.get("created_at"), int), f"created_at must be a number: {doc!r}")

    listed = t.alice.run("template", "list", "--json").expect_ok().json()
    expect_equal([x["name"] for x in listed], ["small"], "listed templates")
    t.alice.run("template", "list", "-q").expect_ok().expect_stdout("small\n")
    expect_equal(t.bob.run("template", "list", "--json").expect_ok().json(), [],
                 "another user's templates")

    t.alice.run("template", "delete", "small").expect_ok()
    expect_equal(t.alice.run("template", "list", "--json").expect_ok().json(), [], "after delete")
    t.alice.run("template", "delete", "small").expect_exit(4).expect_error_line(
        "template 'small' not found")


@suite.test
def box_from_template_with_overrides(t):
    t.alice.run("template", "create", "base", "--vcpu", "1", "--memory", "4G").expect_ok()
    vm = t.box_name("tpl")
    doc = t.alice.run("box", "create", vm, "--template", "base", "--json", timeout=60).expect_ok().json()
    t.alice.created.append(vm)
    expect_equal((doc.get("name"), doc.get("status")), (vm, "running"), "created box")
    box = t.alice.get(vm)
    expect_equal((box.get("vcpu"), box.get("memory_bytes")), (1, 4 * GiB), "config from the template")
    expect_equal(box.get("source"), "template/base", "source")
    t.alice.sh(vm, "true")

    vm2 = t.box_name("tpl")
    t.alice.run("box", "create", vm2, "--template", "base", "--memory", "8G", timeout=60).expect_ok()
    t.alice.created.append(vm2)
    box = t.alice.get(vm2)
    expect_equal((box.get("vcpu"), box.get("memory_bytes")), (1, 8 * GiB), "override wins")


@suite.test
def mistakes_are_refused(t):
    t.alice.run("template", "create", "dup").expect_ok()
    t.alice.run("template", "create", "dup").expect_exit(5).expect_error_line(
        "template name 'dup' already exists")
    t.alice.run("template", "create", "Bad_Name").expect_exit(2)
    t.alice.run("template", "create", "img", "--image", "ubuntu:99").expect_exit(5)
    t.alice.run("box", "create", t.box_name("x"), "--template", "missing").expect_exit(4)
    t.bob.run("box", "create", t.box_name("x"), "--template", "dup").expect_exit(4)
    t.alice.run("box", "create", t.box_name("x"), "--template", "dup", "--image", "host").expect_exit(2)


@suite.test
def templates_survive_a_restart(t):
    t.alice.run("template", "create", "kept", "--vcpu", "4").expect_ok()
    t.server.restart()
    listed = t.alice.run("template", "list", "--json").expect_ok().json()
    expect("kept" in [x["name"] for x in listed], f"templates after restart: {listed!r}")


suite.main()
