"""The ``alur`` command line."""
from __future__ import annotations

import importlib
import logging
import os
import random
import secrets
import sys
import time
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import transaction
from engine.errors import EngineError
from engine.models import EventRow, TaskRow
from ops.backup import backup, restore
from ops.schema import init_database
from process import messages
from process.config import Settings
from process.deadlines import WIB
from process.forms import FormInvalid
from process.modeling import ensure_lane_groups
from process.models import Group, Team, User
from process.roles import ALL_ROLES, LEGACY_GROUPS, ROLE_LABELS
from process.system import System, build_system


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        _fail(f"configuration: {exc}")


def _system(clock=None, purpose: str = "cli") -> System:
    return build_system(_settings(), clock, purpose)


def _fail(message: str) -> None:
    raise click.ClickException(message)


#: The checkout this module runs from; `alur bench` lives there (bench/), outside the installed packages.
CHECKOUT = Path(__file__).resolve().parents[1]


class AlurGroup(click.Group):
    """The command group, with `alur bench` loaded only when asked for (click's lazily loaded subcommands): the
    benchmarks and their load harness are not part of the shipped packages, they run from a checkout."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "bench"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name != "bench":
            return super().get_command(ctx, name)
        if not (CHECKOUT / "bench" / "cli.py").is_file():
            return _bench_missing
        if str(CHECKOUT) not in sys.path:
            sys.path.insert(0, str(CHECKOUT))
        # By name: the shipped packages never import bench (an import-linter contract); it is loaded from the checkout.
        return importlib.import_module("bench.cli").bench


@click.command("bench", help="Run the benchmarks (from a checkout of the repository only).")
def _bench_missing() -> None:
    _fail(f"alur bench runs from a checkout of the repository: {CHECKOUT / 'bench'} does not exist here.")


@click.group(cls=AlurGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Alur Medsos: SOP 21/2025 KPU Provinsi Sumatera Barat as a BPMN process."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command("init-db")
@click.option("--demo", is_flag=True,
              help="On a database without users, also create one demo account per role and print their passwords.")
def init_db(demo: bool) -> None:
    """Create the tables, deploy the bundled diagrams and give their lanes groups (safe to run again)."""
    with _system() as system:
        init_database(system)
        with transaction(system.sessions) as session:
            definition = system.cases.ensure_definition(session)
            ensure_lane_groups(session, system, actor="system")  # each bundled procedure's lanes have a group
        click.echo(f"database ready: {system.settings.database_url.split('@')[-1]}; "
                   f"process {definition.process_key} version {definition.version}")
        if demo:
            _demo_accounts(system)


DEMO_URL = "http://127.0.0.1:5000/"
DEMO_TEAM = ("humas", "Divisi Sosialisasi, Pendidikan Pemilih, Partisipasi Masyarakat dan SDM")
#: (username, role or group, team, full name): one account per role and per group of the bundled diagram's lanes,
#: enough to take a case from step 1 to published.
DEMO_ACCOUNTS = (
    ("pemilik", "process_owner", None, "Demo Pemilik Proses"),
    ("auditor", "auditor", None, "Demo Auditor"),
    ("admin", "admin", None, "Demo Administrator"),
)


def demo_lane_accounts(system: System, session) -> list[tuple[str, str, str | None, str]]:
    """(username, group code, team, full name): one account per group of a lane of every deployed procedure (read
    from the diagrams, ``alur:lane`` and ``camunda:candidateGroups``), enough to take a case of each to its end; the
    username is the group code with dots (``admin_medsos`` → ``admin.medsos``); team-scoped lanes' accounts are in the
    demo team."""
    out, seen = [], set()
    for group, lane in ensure_lane_groups(session, system, actor="demo"):
        if group.code in seen:
            continue
        seen.add(group.code)
        out.append((group.code.replace("_", "."), group.code, DEMO_TEAM[0] if lane.team_scoped else None,
                    f"Demo {group.name}"))
    return out


def _instance_dir() -> Path:
    # The same rule as Settings.from_env and create_app.
    return Path(os.environ.get("ALUR_INSTANCE_DIR") or Path.cwd() / "instance")


def _demo_accounts(system: System) -> None:
    """Demo accounts with random passwords, printed once and kept in an owner-only file; never twice."""
    path = _instance_dir() / "demo-credentials.txt"
    with transaction(system.sessions) as session:
        if session.execute(select(func.count(User.id))).scalar():
            if path.exists():
                click.echo(f"users exist already; demo credentials (unless changed since) are in {path}")
            else:
                click.echo("users exist already; no demo accounts created")
            return

        system.people.team(session, DEMO_TEAM[0], create=True, name=DEMO_TEAM[1])
        rows = []
        lanes = demo_lane_accounts(system, session)
        names = {g.code: g.name for g in session.execute(select(Group)).scalars()}
        for username, role, team, full_name in [*lanes, *DEMO_ACCOUNTS]:
            password = secrets.token_urlsafe(12)
            if role in names:  # the group of a lane
                system.people.add_user(session, username, password, groups=[role], full_name=full_name,
                                       team_code=team, actor="demo")
                rows.append((username, names[role], password))
            else:
                system.people.add_user(session, username, password, [role], full_name=full_name, team_code=team,
                                       actor="demo")
                rows.append((username, ROLE_LABELS[role], password))
        width, names_width = max(len(r[1]) for r in rows), max(len("username"), *(len(r[0]) for r in rows))
        lines = [f"Alur Medsos demo accounts. Open {DEMO_URL} and log in with:", "",
                 f"  {'username':<{names_width}}  {'role/group':<{width}}  password"]
        lines += [f"  {u:<{names_width}}  {label:<{width}}  {pw}" for u, label, pw in rows]
        text = "\n".join(lines) + "\n"
        # Written before the commit: when the file cannot be written, no accounts with lost passwords remain.
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # left over from an earlier database: its passwords are void
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    click.echo("")
    click.echo(text + f"\n(shown once; also saved, readable only by you, in {path})")


@main.group()
def user() -> None:
    """Manage accounts."""


def _roles_and_groups(roles: tuple[str, ...], groups: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``--role`` takes application roles; a staff role of before groups is taken as the group of that code, with a
    deprecation note (old scripts keep working)."""
    app_roles, codes = [], list(groups)
    for role in roles:
        if role in LEGACY_GROUPS:
            click.echo(f"note: --role {role} is deprecated; {role} is a group now: use --group {role}", err=True)
            codes.append(role)
        elif role in ALL_ROLES:
            app_roles.append(role)
        else:
            _fail(f"unknown role {role!r} (roles: {', '.join(ALL_ROLES)}; lanes are worked by groups: --group)")
    if not app_roles and not codes:
        _fail("give at least one --role or --group")
    return app_roles, sorted(set(codes))


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="ROLE",
              help=f"Application role (repeatable): {', '.join(ALL_ROLES)}.")
@click.option("--group", "groups", multiple=True, metavar="CODE",
              help="Group code (repeatable): the lanes of the diagram the user works.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--team", default=None, help="Team code (created if new), for members of team-scoped lanes.")
@click.option("--full-name", default="", help="Full name shown in the app.")
@click.option("--email", default=None, help="E-mail address for notifications.")
@click.option("--nip", default=None, help="NIP (18 digits, civil servants only), printed under a signature.")
@click.option("--jabatan", default="", help="Official title printed under a signature.")
def user_add(name: str, roles: tuple[str, ...], groups: tuple[str, ...], password_stdin: bool, team: str | None,
             full_name: str, email: str | None, nip: str | None, jabatan: str) -> None:
    """Add an account NAME with roles and/or groups."""
    if not password_stdin:
        _fail("give the password on standard input with --password-stdin")
    app_roles, codes = _roles_and_groups(roles, groups)
    password = sys.stdin.readline().rstrip("\n")
    try:
        with _system() as system, transaction(system.sessions) as session:
            for code in codes:  # a legacy staff role's group is there after migration 0006; made if not
                if code in LEGACY_GROUPS:
                    system.people.ensure_group(session, code, LEGACY_GROUPS[code], actor="cli")
            if team and session.execute(select(Team.id).where(Team.code == team.strip())).first() is None:
                team = system.people.add_team(session, team, team.strip(), actor="cli").code
            added = system.people.add_user(session, name, password, app_roles, groups=codes, full_name=full_name,
                                           team_code=team, email=email, nip=nip, jabatan=jabatan,
                                           actor="cli").username
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    parts = ([f"roles {', '.join(sorted(set(app_roles)))}"] if app_roles else []) + \
        ([f"groups {', '.join(codes)}"] if codes else [])
    click.echo(f"user {added} added with {' and '.join(parts)}")


def _password_from_stdin(flag: bool) -> str:
    if not flag:
        _fail("give the password on standard input with --password-stdin")
    return sys.stdin.readline().rstrip("\n")


@user.command("deactivate")
@click.argument("name")
def user_deactivate(name: str) -> None:
    """Deactivate the account NAME: it can no longer log in and its sessions and tokens stop working."""
    try:
        with _system() as system, transaction(system.sessions) as session:
            system.people.deactivate(session, system.people.find_user(session, name), actor="cli")
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    click.echo(f"user {name} deactivated")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (ends all of its sessions and API tokens)."""
    password = _password_from_stdin(password_stdin)
    try:
        with _system() as system, transaction(system.sessions) as session:
            system.people.reset_password(session, system.people.find_user(session, name), password, actor="cli")
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    click.echo(f"password of {name} changed")


@user.command("official")
@click.argument("name")
@click.option("--nip", default=None, help="NIP (18 digits); an empty value removes it.")
@click.option("--jabatan", default=None, help="Official title; an empty value removes it.")
def user_official(name: str, nip: str | None, jabatan: str | None) -> None:
    """Set the NIP and official title NAME's signature prints (what is not given stays)."""
    try:
        with _system() as system, transaction(system.sessions) as session:
            target = system.people.find_user(session, name)
            system.people.set_official(session, target, nip=target.nip if nip is None else nip,
                                       jabatan=target.jabatan if jabatan is None else jabatan, actor="cli")
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    click.echo(f"official details of {name} saved")


@user.command("list")
def user_list() -> None:
    """List the accounts with their roles, groups and teams."""
    with _system() as system, system.readers() as session:
        users = list(session.execute(select(User).order_by(User.username)).scalars())
        rows = [(u.username, "active" if u.active else "INACTIVE", ",".join(sorted(u.roles)) or "-",
                 ",".join(sorted(u.group_codes)) or "-", u.team.code if u.team else "-", u.full_name) for u in users]
    if not rows:
        click.echo("no users yet (see `alur user add` or `alur init-db --demo`)")
        return
    _table(("username", "status", "roles", "groups", "team", "full name"), rows)


def _table(header: tuple[str, ...], rows: list[tuple]) -> None:
    """Columns padded to their widest cell; the last one as it is."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        click.echo("  ".join(f"{str(row[i]):<{widths[i]}}" for i in range(len(widths))) + "  " + str(row[-1]))


@main.group("search")
def search_cmd() -> None:
    """The case search index (process/search.py)."""


@search_cmd.command("reindex")
def search_reindex() -> None:
    """Rebuild the search row of every case from its event log and register entry (one transaction)."""
    from process import search

    with _system() as system, transaction(system.sessions) as session:
        done = search.reindex(session, system.rules, system.clock.now())
    click.echo(f"search index rebuilt: {done} cases")


@main.group("group")
def group_cmd() -> None:
    """Manage groups: who works which lane of the diagrams."""


@group_cmd.command("add")
@click.argument("code")
@click.argument("name")
def group_add(code: str, name: str) -> None:
    """Add a group CODE named NAME (a lane of that name, or naming CODE, is worked by its members)."""
    try:
        with _system() as system, transaction(system.sessions) as session:
            group = system.people.add_group(session, code, name, actor="cli")
            code, name = group.code, group.name
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    click.echo(f"group {code} ({name}) added; add its members with `alur group members {code} --add USER`")


@group_cmd.command("list")
def group_list() -> None:
    """List the groups, the lanes each works and their members."""
    with _system() as system, system.readers() as session:
        lanes = system.rules.lane_map(session)
        rows = []
        for group in system.people.groups(session):
            members = system.people.members(session, group)
            worked = sorted(lanes.lanes_for(frozenset({group.code}), frozenset({group.name})))
            rows.append((group.code, group.name, ",".join(worked) or "-",
                         ",".join(u.username + ("" if u.active else "(inactive)") for u in members) or "-"))
    if not rows:
        click.echo("no groups yet (see `alur group add`)")
        return
    _table(("code", "name", "lanes", "members"), rows)


@group_cmd.command("members")
@click.argument("code")
@click.option("--add", "add", multiple=True, metavar="USER", help="Make USER a member (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="USER", help="Take USER out (repeatable).")
def group_members(code: str, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Show the members of group CODE; with --add/--remove, change them first."""
    try:
        with _system() as system, transaction(system.sessions) as session:
            group = system.people.find_group(session, code)
            members = system.people.change_members(session, group, add=add, remove=remove, actor="cli")
            names = [u.username + ("" if u.active else " (inactive)") for u in members]
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    click.echo(f"group {code}: " + (", ".join(names) if names else "no members"))


@main.command()
@click.option("--once", "mode", flag_value="once", help="Do what is due now (timers, reminders, e-mail), then exit.")
@click.option("--loop", "mode", flag_value="loop", help="Keep going until stopped (SIGTERM or Ctrl-C).")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Longest sleep with --loop, in seconds. The worker wakes at the next due time it knows of and "
                   "whenever a request makes something due sooner; this is only a safety net for due times "
                   "written behind the application's back.")
def worker(mode: str | None, interval: float) -> None:
    """Fire due deadline timers, send "deadline soon" reminders and the queued e-mails; make the export files
    asked for (large record downloads)."""
    from ops.worker import Worker

    if mode is None:
        _fail("choose --once or --loop")
    with _system(purpose="worker") as system:
        w = Worker(system, interval=interval)

        def show(report) -> None:
            parts = [f"{report.fired} case(s) with fired timers", f"{report.reminders} reminder(s)"]
            if report.purged:
                parts.append(f"{report.purged} unused upload(s) or expired export file(s) removed")
            if w.transport is not None:
                parts.append(f"{report.sent} e-mail(s) sent, {report.failed} failed")
            click.echo("; ".join(parts))

        if mode == "once":
            try:
                show(w.cycle())
                exported = w.run_exports()
                if exported:
                    click.echo(f"{exported} export job(s) run")
            finally:
                w.close()
            return
        mail = system.settings.mail
        click.echo(f"worker running (sleeping until the next due time or a wake-up, at most {interval:g} s; e-mail "
                   + (f"via {mail.host}:{mail.port} ({mail.security})" if mail else "off: ALUR_SMTP_HOST unset")
                   + ")", err=True)
        w.stop_on_signals()
        from ops.serve import freeze_long_lived_heap

        freeze_long_lived_heap()
        w.run(on_report=show)


@main.command()
@click.option("--cases", default=10, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--revisions", default=0, show_default=True, type=click.IntRange(0, 10_000),
              help="Revision rounds per case (Pimpinan Redaksi 'revisi', every second one 'revisi_tim').")
@click.option("--seed", default=21, show_default=True)
def simulate(cases: int, revisions: int, seed: int) -> None:
    """Run CASES complete cases headless through the service layer, one transaction per action.

    A simulated clock moves between actions (about one case in ten runs late), a worker sweep runs
    after each move, and about one case in ten is rejected at its last decision.
    """
    from ops.simulation import FORMS, Driver, unggah_form

    rng = random.Random(seed)
    clock = ManualClock(datetime(2025, 5, 6, 8, 0, tzinfo=WIB))
    system = _system(clock)
    init_database(system)
    driver = Driver(system, rng)
    published = rejected = 0
    started = time.perf_counter()
    first_instance = None

    def tick(hours_min: float, hours_max: float) -> None:
        clock.advance(minutes=rng.randint(int(hours_min * 60), int(hours_max * 60)))
        driver.sweep()

    try:
        driver.ensure_users()
        for n in range(1, cases + 1):
            instance_id, task = driver.start(n)
            first_instance = first_instance or instance_id
            form = driver.step1_form(n)
            tick(2, 40 if rng.random() < 0.1 else 20)
            (task,) = driver.act("tim_pelaksana", task, form)
            tick(1, 6)
            (task,) = driver.act("admin_medsos", task, FORMS["terima"])
            for round_ in range(revisions + 1):
                if round_ % 2 == 0 and round_:  # the last revisi sent it back to the team: hand in, receive
                    tick(0.5, 6)
                    (task,) = driver.act("tim_pelaksana", task, driver.step1_form(n))
                    tick(0.5, 6)
                    (task,) = driver.act("admin_medsos", task, FORMS["terima"])
                tick(0.1, 4)
                (task,) = driver.act("wapimred", task, FORMS["koreksi"])
                tick(0.1, 4)
                last = round_ == revisions
                revisi = "revisi_tim" if round_ % 2 else "revisi"  # every second round back to the team
                decision = revisi if not last else ("tolak" if rng.random() < 0.1 else "setuju")
                ready = driver.act("pimred", task, FORMS[decision])
                if decision == "tolak":
                    rejected += 1
                    break
                (task,) = ready
            else:
                tick(0.5, 6)
                driver.act("admin_medsos", task, unggah_form(clock.now(), n))
                published += 1
            clock.advance(hours=rng.randint(1, 12))
    except (EngineError, FormInvalid) as exc:
        system.dispose()
        _fail(f"simulation stopped: {exc}")
    elapsed = time.perf_counter() - started
    with system.sessions() as session:
        overdue = session.execute(
            select(func.count(func.distinct(EventRow.instance_id)))
            .where(EventRow.type == "overdue", EventRow.instance_id >= first_instance)).scalar()
        actions = session.execute(select(func.count(TaskRow.id)).where(
            TaskRow.instance_id >= first_instance, TaskRow.state == "completed")).scalar()
    system.dispose()
    click.echo(f"({actions} task completions in {elapsed:.1f} s, {1000 * elapsed / max(actions, 1):.1f} ms "
               "each including claims, uploads and sweeps)", err=True)
    click.echo(f"simulated {cases} cases: {published} published, {rejected} rejected, {overdue} overdue")


@main.group()
def audit() -> None:
    """Check the history of record."""


@audit.command("verify")
def audit_verify() -> None:
    """Verify the whole hash chain of the event log; name the first event that does not match."""
    from engine import eventlog

    with _system() as system, transaction(system.sessions) as session:
        report = eventlog.verify(session)
    if not report.ok:
        _fail(f"event log NOT intact after {report.checked} events: {report.problem}")
    click.echo(f"event log intact: {report.checked} events verified")


@audit.command("replay")
@click.argument("case", type=int)
@click.option("--verify", is_flag=True,
              help="Re-execute the recorded inputs on the recorded version and compare every action (exit 1 on a "
                   "mismatch).")
def audit_replay(case: int, verify: bool) -> None:
    """Print the events of CASE with the state after each; with --verify, re-execute it and compare."""
    from engine.replay import replay, states

    try:
        with _system() as system, transaction(system.sessions) as session:
            if not verify:
                for s in states(session, case):
                    who = f" by {s.actor}" if s.actor else ""
                    what = s.payload.get("bpmn_id") or s.payload.get("element") or s.payload.get("kind") or ""
                    click.echo(f"#{s.seq:<6} {s.at.astimezone(WIB):%Y-%m-%d %H:%M:%S} {s.type:<18} {what:<16}{who}")
                    click.echo(f"{'':8}active: {', '.join(s.active) or '-'}; done: {', '.join(s.completed) or '-'}; "
                               f"late: {', '.join(s.overdue) or '-'}")
                return
            result = replay(session, system.engine, case)
            for step in result.steps:
                verdict = "MATCH" if step.match else "MISMATCH"
                label = step.type + (f" {step.bpmn_id}" if step.bpmn_id else "")
                click.echo(f"#{step.seq:<6} {step.at.astimezone(WIB):%Y-%m-%d %H:%M:%S} {label:<34} {verdict}"
                           + (f"  ({step.note})" if step.note else ""))
                for key in step.differences:
                    click.echo(f"{'':8}{key}: recorded {step.expected.get(key)!r}, "
                               f"re-executed {step.actual.get(key)!r}")
    except EngineError as exc:
        _fail(messages.error_text(exc, messages.locale_from_env()))
    if result.matches:
        click.echo(f"case {case}: all {len(result.steps)} actions re-execute as recorded")
        return
    first = result.first_mismatch
    click.echo(f"case {case}: MISMATCH at event #{first.seq} ({first.type})" if first else f"case {case}: MISMATCH",
               err=True)
    if result.error:
        click.echo(f"replay stopped: {result.error}", err=True)
    sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (more than 1: gunicorn's gthread workers, which also keep connections open).")
@click.option("--dev", is_flag=True, help="Werkzeug's single-process development server instead of gunicorn.")
def serve(host: str, port: int, workers: int, threads: int, dev: bool) -> None:
    """Start the web app (gunicorn by default)."""
    if dev:
        from webui import create_app

        create_app().run(host=host, port=port)
        return
    timeout = _settings().request_timeout  # a configuration error is reported here, before anything starts
    sys.stdout.flush()
    sys.stderr.flush()
    # A lean gunicorn master: this process becomes `python -m ops.serve` (same pid), see ops/serve.py.
    os.execv(sys.executable, [sys.executable, "-m", "ops.serve", "--host", host, "--port", str(port),
                              "--workers", str(workers), "--threads", str(threads), "--timeout", str(timeout)])


main.add_command(backup)  # alur backup PATH   (ops/backup.py)
main.add_command(restore)  # alur restore PATH [--force]

if __name__ == "__main__":  # pragma: no cover
    main()


@main.group("sop")
def sop_cmd() -> None:
    """The procedures' official SOP documents (Permenpan RB 35/2012), printed from their diagrams."""


@sop_cmd.command("print")
@click.option("--procedure", "procedure", metavar="KEY",
              help="The procedure's process id (default: the bundled SOP's).")
@click.option("--version", "number", type=click.IntRange(1), metavar="N", help="Its version (default: the newest).")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The PDF file to write.")
def sop_print(procedure: str | None, number: int | None, output: Path) -> None:
    """Write a procedure's SOP document (identity page, flowchart matrix, changes) as an A4 PDF."""
    from engine.errors import NotFound
    from process import modeling, sopdoc

    with _system() as system, transaction(system.sessions) as session:
        key = procedure or system.settings.process_key
        found = modeling.versions(session, key)
        if not found:
            known = ", ".join(p.key for p in system.cases.procedures(session)) or "none"
            _fail(f"procedure {key!r} has no deployed version (deployed procedures: {known})")
        if number is not None and number not in {d.version for d in found}:
            _fail(f"procedure {key!r} has no version {number} (its versions: "
                  f"{', '.join(str(d.version) for d in reversed(found))})")
        try:
            document = sopdoc.document_of(session, system, key, number)
        except NotFound as exc:  # pragma: no cover - checked above; the same words if it happens meanwhile
            _fail(messages.error_text(exc, messages.locale_from_env()))
        pdf = sopdoc.to_pdf(document, printed_at=system.clock.now(), letterhead=system.settings.letterhead)
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"{output}: SOP {document.name}, version {document.version}, {len(document.rows)} steps, "
               f"{len(pdf)} bytes")


@sop_cmd.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The BPMN draft to write (default: the XLSX file's name with .bpmn).")
def sop_import(source: Path, output: Path | None) -> None:
    """Turn an SOP matrix in the official form (XLSX: No., Uraian Prosedur, one column per actor, Kelengkapan,
    Waktu, Output, Keterangan) into a BPMN draft for the modeler. Warnings are printed; errors name the row and
    column of their cell and nothing is written. ``alur sop template`` writes the template."""
    from process import sopimport

    locale = messages.locale_from_env()
    try:
        data = source.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {source}: {exc.strerror or exc}")
    try:
        draft = sopimport.import_xlsx(data, source.name)
    except sopimport.ImportRefused as exc:
        click.echo(messages.error_text(exc, locale), err=True)
        for finding in exc.findings:
            click.echo(f"  {'!' if finding.severity == 'warning' else '-'} {finding.text(locale)}", err=True)
        sys.exit(1)
    for finding in draft.warnings:
        click.echo(f"! {finding.text(locale)}", err=True)
    target = output or source.with_suffix(".bpmn")
    try:
        target.write_text(draft.xml, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror or exc}")
    click.echo(f"{target}: {draft.name} ({draft.process_key}), {draft.xml.count('<bpmn:userTask ')} steps, "
               f"{len(draft.warnings)} warnings")


@sop_cmd.command("template")
@click.option("--example", is_flag=True, help="The filled example (SOP Nomor 21 Tahun 2025) instead of the template.")
@click.argument("output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def sop_template(example: bool, output: Path) -> None:
    """Write the XLSX template of an SOP matrix (with its instructions sheet), or the filled example."""
    from process import sopimport

    data = sopimport.example_xlsx() if example else sopimport.template_xlsx()
    try:
        output.write_bytes(data)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"{output}: {len(data)} bytes")
