"""Security: one tenant never reaches another tenant's box, nor the server
through the HTTP proxy (issue 12, "cross-tenant web traffic"), and a forged
JWT gets nobody in.

URLs are read from `boxd box proxy list --json` (the `domain` field: the
Host to send to the server's proxy), never built from a format, so the
tests hold whatever URL names the server picks."""

import base64
import hashlib
import hmac
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectest import (ALICE_KEY, BOB_KEY, SecuritySuite, dead_port, eventually,  # noqa: E402
                     exchange_token, expect, expect_equal, fail, http_get, port_of,
                     tcp_connections, token)

suite = SecuritySuite(__file__)


def default_proxy(cli, vm):
    proxies = cli.run("box", "proxy", "list", vm, "--json").expect_ok().json()
    for proxy in proxies:
        if proxy.get("is_default"):
            return proxy
    fail(f"box {vm} has no default proxy: {proxies!r}")


def serve(cli, vm, port, text):
    """A web server in the box on `port` (all addresses, so it answers
    whatever address the proxy uses for the box)."""
    www = f"/tmp/sec-www-{port}"
    cli.sh(vm, f"mkdir -p {www} && echo {text} > {www}/index.txt && "
               f"(setsid nohup /usr/bin/python3 -m http.server {port} --directory {www} "
               f">/dev/null 2>&1 < /dev/null &)")


def fetch(t, host, path="/index.txt"):
    return http_get(t.server.proxy_url, host, path, timeout=5)


def serving(cli, vm, port):
    """Waits until the box's own server answers inside the box."""
    eventually(lambda: cli.exec(vm, f"python3 -c \"import urllib.request as u; "
                                    f"u.urlopen('http://127.0.0.1:{port}/index.txt', timeout=2)\"",
                                timeout=15).code == 0,
               15, 0.3, f"the web server in box {vm} on port {port}")


@suite.test
def urls_route_only_to_their_owners_box(t):
    t.require_isolation()
    name = t.box_name("site")
    t.alice.create_box(name)
    t.bob.create_box(name)
    alice_text, bob_text = token("alice-page"), token("bob-page")
    alice_proxy, bob_proxy = default_proxy(t.alice, name), default_proxy(t.bob, name)
    serve(t.alice, name, alice_proxy["effective_port"], alice_text)
    serve(t.bob, name, bob_proxy["effective_port"], bob_text)
    serving(t.alice, name, alice_proxy["effective_port"])
    expect(alice_proxy["domain"] != bob_proxy["domain"],
           f"ATTACK WORKED: alice's and bob's boxes named {name} have the same URL "
           f"({alice_proxy['domain']})")
    serving(t.bob, name, bob_proxy["effective_port"])
    # Poll until alice's URL answers at all, so a slow start is not a pass.
    eventually(lambda: fetch(t, alice_proxy["domain"])[0] == 200, 15, 0.3,
               f"alice's URL {alice_proxy['domain']} answering")
    _, alice_body = fetch(t, alice_proxy["domain"])
    _, bob_body = fetch(t, bob_proxy["domain"])
    expect(bob_text not in alice_body, f"ATTACK WORKED: alice's URL {alice_proxy['domain']} "
                                       f"answers with bob's page ({alice_body!r})")
    expect(alice_text not in bob_body, f"ATTACK WORKED: bob's URL {bob_proxy['domain']} answers "
                                       f"with alice's page ({bob_body!r})")


@suite.test
def a_stopped_boxs_url_is_not_taken_over_by_another_tenant(t):
    t.require_isolation()
    name = t.box_name("shop")
    t.alice.create_box(name)
    alice_url = default_proxy(t.alice, name)["domain"]
    t.alice.run("box", "stop", name, timeout=60).expect_ok()
    t.bob.create_box(name)
    bob_proxy = default_proxy(t.bob, name)
    bob_text = token("bob-page")
    serve(t.bob, name, bob_proxy["effective_port"], bob_text)
    serving(t.bob, name, bob_proxy["effective_port"])
    status, body = fetch(t, alice_url)
    expect(bob_text not in body, f"ATTACK WORKED: alice's URL {alice_url} (her box stopped) "
                                 f"answers with bob's box of the same name ({status} {body!r})")
    expect(alice_url != bob_proxy["domain"], f"ATTACK WORKED: bob's box {name} got alice's URL "
                                             f"{alice_url}")


@suite.test
def a_domain_bind_cannot_steal_another_tenants_url(t):
    t.require_isolation()
    alice_box, bob_box = t.box_name("own"), t.box_name("thief")
    t.alice.create_box(alice_box)
    t.bob.create_box(bob_box)
    alice_proxy = default_proxy(t.alice, alice_box)
    alice_text, bob_text = token("alice-page"), token("bob-page")
    serve(t.alice, alice_box, alice_proxy["effective_port"], alice_text)
    serving(t.alice, alice_box, alice_proxy["effective_port"])
    # A port of its own, so bob's page is really served even where boxes
    # share one loopback (then his default port would be alice's).
    bob_port = dead_port()
    t.bob.run("box", "proxy", "set-port", bob_box, "--port", bob_port).expect_ok()
    serve(t.bob, bob_box, bob_port, bob_text)
    alice_host = alice_proxy["domain"].rsplit(":", 1)[0]
    bound = f"{token('shop')[:30]}.example.com"
    t.alice.run("domain", "bind", bound, alice_box).expect_ok()
    serving(t.bob, bob_box, bob_port)
    own = default_proxy(t.bob, bob_box)["domain"]
    eventually(lambda: bob_text in fetch(t, own)[1], 15, 0.3, f"bob's page at his URL {own}")
    for host in (alice_host, bound):
        t.bob.run("domain", "bind", host, bob_box)
    # Once while alice's box runs, once after she stops it (her URL is then
    # free for whoever claimed its name).
    for moment in ("running", "stopped"):
        if moment == "stopped":
            t.alice.run("box", "stop", alice_box, timeout=60).expect_ok()
        for url_host in sorted({alice_host, alice_proxy["domain"], bound}):
            status, body = fetch(t, url_host)
            expect(bob_text not in body,
                   f"ATTACK WORKED: bob bound {url_host.rsplit(':', 1)[0]} to his box and, "
                   f"alice's box {moment}, {url_host} answers with bob's page ({status} {body!r})")


def server_answers(t):
    """What the server's own HTTP endpoint says, asked directly."""
    return http_get(t.server.exchange_url.split("/api/")[0], "localhost", "/healthz")


@suite.test
def a_proxy_cannot_point_at_the_servers_ports(t):
    # Evidence that works for any protocol: a new TCP connection to the
    # server's port while only the proxy is being asked (the key exchange's
    # /healthz answer through the proxy is a second, visible one).
    t.require_isolation()
    vm = t.bob.create_box(t.box_name("pivot"))
    direct = server_answers(t)
    expect_equal(direct[0], 200, f"direct /healthz of the key exchange ({direct!r})")
    targets = {"key exchange": port_of(t.server.exchange_url), "gRPC": port_of(t.server.api_url)}
    problems = []
    for what, port in targets.items():
        t.bob.run("box", "proxy", "create", vm, f"p{port}", "--port", port)
        t.bob.run("box", "proxy", "set-port", vm, "--port", port)
        t.bob.run("box", "proxy", "expose", vm, port)
        hosts = sorted({p["domain"] for p in
                        t.bob.run("box", "proxy", "list", vm, "--json").expect_ok().json()
                        if p.get("effective_port") == port})
        if not hosts:
            print(f"     (every proxy to the {what} port {port} was refused)", flush=True)
            continue
        before = tcp_connections(port)
        answers = {host: fetch(t, host, "/healthz") for host in hosts}
        new = tcp_connections(port) - before
        if new:
            problems.append(f"bob's proxies {hosts} connected to the server's {what} port {port} "
                            f"({len(new)} new connections; answers {answers!r})")
        problems += [f"bob's proxy {host} relays to the server's {what} ({answer!r})"
                     for host, answer in answers.items() if answer == direct]
    expect(not problems, "ATTACK WORKED: " + "\n".join(problems))


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header, claims, key):
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(claims))}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def forged_tokens(t, victim):
    now = int(time.time())
    claims = {"sub": victim, "jti": token("jti"), "iat": now, "exp": now + 3600}
    secret = (t.server.state_dir / "jwt_secret").read_text().strip()
    bob_token = exchange_token(t.server.exchange_url, t.bob.key)
    head, _body, sig = bob_token.split(".")
    hs = {"alg": "HS256", "typ": "JWT"}
    return {
        "signed with a wrong key": hs256(hs, claims, "not-the-server-secret-" + "x" * 40),
        "signed with an empty key": hs256(hs, claims, ""),
        "alg none": f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}))}.{b64(json.dumps(claims))}.",
        "alg none, no dot": f"{b64(json.dumps({'alg': 'none'}))}.{b64(json.dumps(claims))}",
        "expired (real key)": hs256(hs, dict(claims, iat=now - 7200, exp=now - 3600), secret),
        "bob's token, subject changed": f"{head}.{b64(json.dumps(claims))}.{sig}",
    }


@suite.test
def forged_jwts_are_refused(t):
    t.require_isolation()
    vm = t.alice.create_box(t.box_name("vault"))
    marker = f"/tmp/{token('forged')}"
    attacker = t.cli("bob")
    for what, forged in forged_tokens(t, "alice").items():
        env = {"BOXD_TOKEN": forged}
        listed = attacker.run("box", "list", "--json", env=env, unset=["BOXD_API_KEY"])
        expect(vm not in listed.stdout,
               listed.describe(f"ATTACK WORKED: a JWT {what} lists alice's boxes"))
        expect_equal(listed.code, 3, f"exit code of `box list` with a JWT {what} "
                                     f"(stderr {listed.stderr!r})")
        attacker.run("box", "exec", vm, "--", f"touch {marker}", env=env, unset=["BOXD_API_KEY"])
    gone = t.alice.exec(vm, f"test -e {marker}")
    expect_equal(gone.code, 1, f"ATTACK WORKED? {marker} exists in alice's box after exec with "
                               "forged tokens")


@suite.test
def a_token_ends_with_the_key_it_comes_from(t):
    # Bob makes himself a token for a year, then loses his key (the admin
    # restarts the server without it); alice's key is replaced after a
    # leak. Neither old credential may still get in.
    server = t.new_server("keys")
    bob, alice = t.cli("bob", server=server), t.cli("alice", server=server)
    bob_token = bob.run("token", "create", "--expires-in", "31622400").expect_ok().stdout.strip()
    alice_token = alice.run("token", "create", "--expires-in", "31622400").expect_ok().stdout.strip()
    holder = t.cli("bob", server=server, key="")
    for who, jwt in (("bob", bob_token), ("alice", alice_token)):
        holder.run("whoami", env={"BOXD_TOKEN": jwt}).expect_ok()  # both work at first
    new_alice_key = "bxd_" + token("rotated").replace("-", "")[:40]
    server.keys = {"alice": new_alice_key}
    server.restart()
    problems = []
    for who, jwt in (("bob", bob_token), ("alice", alice_token)):
        env = {"BOXD_TOKEN": jwt}
        listed = holder.run("box", "list", "--json", env=env)
        if listed.code != 3:
            problems.append(f"{who}'s token from the old key lists boxes (exit {listed.code})")
        created = holder.run("box", "create", f"after-{who}", env=env)
        if created.code != 3:
            problems.append(f"{who}'s token from the old key creates a box (exit {created.code})")
    t.cli("alice", server=server, key=new_alice_key).run("whoami").expect_ok()
    # Nothing was made with them: with the old keys back, no such box.
    server.keys = {"alice": ALICE_KEY, "bob": BOB_KEY}
    server.restart()
    for who, cli in (("bob", bob), ("alice", alice)):
        if f"after-{who}" in cli.list_names():
            problems.append(f"{who}'s old token created box after-{who}")
    expect(not problems, "ATTACK WORKED: " + "; ".join(problems))


suite.main()
