"""User administration (role ``admin`` only): accounts, roles, groups and their members, teams, deactivation,
password resets, and the e-mail queue (what was not delivered, and why).

Every change goes through process/people.py, which writes it to the event log.
Generated passwords are shown once, in the response to the POST that made them, and never stored in clear.
"""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from engine.errors import NotFound
from process import inputs, outbox
from process import nip as nip_rules
from process.declarations import lane_key
from process.errors import BadRequest, NotPermitted
from process.models import Group, Team, User, UserGroup
from process.roles import ALL_ROLES

from . import i18n
from .access import lane_map, me, my_session_id, role_required
from .db import db, discard, system

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Role names in the user's language. The msgids are process.roles.ROLE_LABELS (a test keeps them equal).
ROLE_NAMES = {
    "process_owner": _l("Pemilik Proses"),
    "auditor": _l("Auditor"),
    "admin": _l("Administrator"),
}

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
NEW_PASSWORD_BYTES = 12  # token_urlsafe(12) → 16 characters, ~96 bits


def _at_most(n: int) -> Length:
    # WTForms has no Indonesian catalogue: every validator here carries its own message.
    return Length(max=n, message=_l("Paling banyak %(max)d karakter."))


def _rule(rule):
    """A validator that applies a rule of process/inputs.py (the one the service applies, so the form, the API and
    the command line answer alike) and keeps the cleaned value (trimmed, NFC, a username in lower case)."""

    def validate(form, field):
        if field.errors or field.data is None or (field.data == "" and not field.flags.required):
            return
        try:
            field.data = rule(field.data)
        except inputs.Refused as refused:
            labelled = refused.labelled(str(field.label.text))
            raise ValidationError(i18n.error_text(labelled)) from None

    return validate


def _optional_name(value):
    return inputs.name(value, required=False)


def _nip_field():
    return StringField(_l("NIP"), validators=[Optional(), _at_most(40), _rule(nip_rules.nip)],
                       description=_l("18 angka, hanya untuk PNS; mis. 19870412 201001 2 003."))


def _jabatan_field():
    return StringField(_l("Jabatan"), validators=[Optional(), _at_most(nip_rules.MAX_JABATAN),
                                                   _rule(nip_rules.jabatan)],
                       description=_l("Dicetak di bawah tanda tangan, mis. Sekretaris KPU Provinsi Sumatera Barat."))


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))


def _role_field():
    return SelectMultipleField(
        _l("Peran"), choices=[SelectChoice(r, ROLE_NAMES[r]) for r in ALL_ROLES],
        invalid_choice_message=_l("Peran tidak dikenal: %(value)s."))


def _group_field():
    return SelectMultipleField(_l("Grup"), choices=[], invalid_choice_message=_l("Grup tidak dikenal: %(value)s."))


def _team_field():
    return SelectField(_l("Tim"), choices=[], invalid_choice_message=_l("Tim tidak dikenal."))


def _email_field():
    return EmailField(_l("Surel"), validators=[Optional(), _at_most(200),
                                               Regexp(EMAIL_RE, message=_l("Alamat surel tidak sah."))])


class UserCreateForm(FlaskForm):
    username = StringField(_l("Nama pengguna"), validators=[
        DataRequired(message=_l("Nama pengguna wajib diisi.")), _at_most(100), _rule(inputs.username)])
    full_name = StringField(_l("Nama lengkap"), validators=[Optional(), _at_most(200), _rule(_optional_name)])
    email = _email_field()
    nip = _nip_field()
    jabatan = _jabatan_field()
    roles = _role_field()
    groups = _group_field()
    team = _team_field()
    new_team_code = StringField(_l("Kode tim baru"), validators=[Optional(), _at_most(50), _rule(inputs.team_code)])
    new_team_name = StringField(_l("Nama tim baru"), validators=[Optional(), _at_most(200), _rule(inputs.name)])
    password = PasswordField(_l("Kata sandi awal"), validators=[
        Optional(), Length(min=8, message=_l("Kata sandi minimal 8 karakter.")), _at_most(200)])


class UserEditForm(FlaskForm):
    full_name = StringField(_l("Nama lengkap"), validators=[Optional(), _at_most(200), _rule(_optional_name)])
    email = _email_field()
    nip = _nip_field()
    jabatan = _jabatan_field()
    roles = _role_field()
    groups = _group_field()
    team = _team_field()


class StatusForm(FlaskForm):
    active = HiddenField(validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A button with nothing but the CSRF token (password reset)."""


class TeamForm(FlaskForm):
    code = StringField(_l("Kode tim"), validators=[
        DataRequired(message=_l("Kode tim wajib diisi.")), _at_most(50), _rule(inputs.team_code)])
    name = StringField(_l("Nama tim"), validators=[DataRequired(message=_l("Nama tim wajib diisi.")),
                                                   _at_most(200), _rule(inputs.name)])


class GroupForm(FlaskForm):
    code = StringField(_l("Kode grup"), validators=[
        DataRequired(message=_l("Kode grup wajib diisi.")), _at_most(50), _rule(inputs.group_code)])
    name = StringField(_l("Nama grup"), validators=[DataRequired(message=_l("Nama grup wajib diisi.")),
                                                    _at_most(200), _rule(inputs.name)])


class GroupMemberForm(FlaskForm):
    username = SelectField(_l("Anggota baru"), choices=[], validate_choice=True,
                           invalid_choice_message=_l("Pengguna tidak dikenal."))


class GroupRenameForm(FlaskForm):
    name = StringField(_l("Nama grup"), validators=[DataRequired(message=_l("Nama grup wajib diisi.")),
                                                    _at_most(200), _rule(inputs.name)])


# --------------------------------------------------------------------------- helpers
def _teams() -> list[Team]:
    return list(db().execute(select(Team).order_by(Team.name)).scalars())


def _team_choices(field: SelectField) -> None:
    field.choices = [SelectChoice("", _("— tanpa tim —"))] + [
        SelectChoice(t.code, f"{t.name} ({t.code})") for t in _teams()]


def _group_choices(field: SelectMultipleField) -> None:
    field.choices = [SelectChoice(g.code, f"{g.name} ({g.code})") for g in system().people.groups(db())]


def _choices(form) -> None:
    _team_choices(form.team)
    _group_choices(form.groups)


def _member_of_something(form) -> bool:
    """A role or a group is chosen; an error on the roles otherwise."""
    if form.roles.data or form.groups.data:
        return True
    form.roles.errors = [*form.roles.errors, _("Pilih setidaknya satu peran atau grup.")]
    return False


def _team_lanes(codes) -> list[str]:
    """The team-scoped lanes the groups of ``codes`` work (their members need a team)."""
    groups = [g for g in system().people.groups(db()) if g.code in set(codes or ())]
    lanes = lane_map()
    worked = lanes.lanes_for(frozenset(g.code for g in groups), frozenset(g.name for g in groups))
    return sorted(lane for lane in worked if lanes.team_only([lane]))


def _user_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", code="user.not_found", user=user_id)
    return user


def _username_taken(username: str) -> bool:
    return system().people.username_taken(db(), username)


def _team_taken(code: str) -> bool:
    return db().execute(select(Team.id).where(Team.code == code)).first() is not None



def _render(template: str, status: int = 200, **context):
    return render_template(template, role_name=role_name, **context), status


def _secret_page(template: str, status: int = 200, **context):
    """A page showing a password: never cached, never kept in history by well-behaved browsers."""
    body, status = _render(template, status, **context)
    return body, status, {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _team_choice(form, groups, new_code: str = "") -> str | None | bool:
    """The team code to use, None for no team, or False after adding inline errors to ``form``."""
    chosen = form.team.data or None
    ok = True
    if new_code:
        if chosen:
            form.new_team_code.errors.append(_("Pilih tim yang ada atau buat tim baru, tidak keduanya."))
            ok = False
        elif _team_taken(new_code):
            form.new_team_code.errors.append(_("Kode tim '%(code)s' sudah dipakai; pilih dari daftar.",
                                               code=new_code))
            ok = False
        if not (form.new_team_name.data or "").strip():
            form.new_team_name.errors.append(_("Nama tim baru wajib diisi."))
            ok = False
        chosen = new_code
    scoped = _team_lanes(groups) if not chosen else []
    if scoped:
        form.team.errors.append(_("Anggota grup yang mengerjakan lajur %(lanes)s harus masuk satu tim: tugas lajur itu "
                                  "hanya untuk tim kegiatan.", lanes=", ".join(scoped)))
        ok = False
    return chosen if ok else False


# ----------------------------------------------------------------------------- views
@bp.get("/")
@role_required("admin")
def index():
    return redirect(url_for("admin.users"))


@bp.route("/pengguna", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserCreateForm()
    _choices(form)
    if form.is_submitted():
        # Every check runs, so that all problems show at once.
        valid = form.validate()
        valid = _member_of_something(form) and valid
        username = (form.username.data or "").strip()
        new_team = (form.new_team_code.data or "").strip()
        team_code = _team_choice(form, form.groups.data, new_team)
        if username and not form.username.errors and _username_taken(username):
            form.username.errors.append(_("Nama pengguna '%(name)s' sudah dipakai.", name=username))
        if valid and team_code is not False and not form.username.errors:
            system_ = system()
            generated = not form.password.data
            password = form.password.data or secrets.token_urlsafe(NEW_PASSWORD_BYTES)
            try:
                if new_team:
                    system_.people.add_team(db(), new_team, form.new_team_name.data, actor=me().actor)
                user = system_.people.add_user(db(), username, password, form.roles.data, groups=form.groups.data,
                                     full_name=(form.full_name.data or "").strip(),
                                     email=(form.email.data or "").strip() or None,
                                     nip=form.nip.data or None, jabatan=form.jabatan.data or "",
                                     team_code=team_code, actor=me().actor)
            except BadRequest as exc:
                # The service's own checks back up the form's; rolled back with the request.
                (form.nip if exc.code == "user.nip_taken" else form.username).errors.append(i18n.error_text(exc))
            else:
                return _secret_page("admin/password_shown.html", 201, user=user,
                                    password=password if generated else None, created=True)
    status = 422 if form.is_submitted() else 200
    listing = list(db().execute(select(User).order_by(User.username)).scalars())
    return _render("admin/users.html", status, form=form, users=listing)


def _edit_page(user: User, form: UserEditForm | None = None, status: int = 200, refusal: str | None = None):
    if form is None:
        form = UserEditForm(formdata=None, data={"full_name": user.full_name, "email": user.email or "",
                                  "nip": nip_rules.printed(user.nip), "jabatan": user.jabatan or "",
                                  "roles": sorted(user.roles), "groups": sorted(user.group_codes),
                                  "team": user.team.code if user.team else ""})
        _choices(form)
    return _render("admin/edit_user.html", status, user=user, form=form, refusal=refusal,
                   status_form=StatusForm(formdata=None, data={"active": "0" if user.active else "1"}),
                   reset_form=ConfirmForm(formdata=None),
                   is_me=user.id == me().id)


@bp.route("/pengguna/<id:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: int):
    user = _user_or_404(user_id)
    if request.method != "POST":
        return _edit_page(user)
    form = UserEditForm()
    _choices(form)
    valid = form.validate()
    valid = _member_of_something(form) and valid
    team_code = _team_choice(form, form.groups.data)
    if not valid or team_code is False:
        return _edit_page(user, form, 422)
    if user.id == me().id and "admin" in user.roles and "admin" not in form.roles.data:
        return _edit_page(user, form, 403, _("Anda tidak dapat mencabut peran Administrator dari akun Anda "
                                              "sendiri."))
    system_, actor = system(), me()
    try:
        system_.people.set_profile(db(), user, full_name=form.full_name.data, email=form.email.data, by=actor)
        system_.people.set_official(db(), user, nip=form.nip.data or None, jabatan=form.jabatan.data or "", by=actor)
        system_.people.set_membership(db(), user, form.roles.data, form.groups.data, by=actor)
        system_.people.set_team(db(), user, team_code, by=actor)
    except (BadRequest, NotPermitted) as exc:
        discard()  # nothing of the refused change stays
        if exc.code == "user.nip_taken":
            form.nip.errors.append(i18n.error_text(exc))
            return _edit_page(user, form, 422)
        return _edit_page(user, form, 403 if isinstance(exc, NotPermitted) else 422,
                          i18n.error_text(exc))
    flash(_("Perubahan pada akun %(name)s disimpan.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/pengguna/<id:user_id>/status")
@role_required("admin")
def set_status(user_id: int):
    user = _user_or_404(user_id)
    form = StatusForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        return _edit_page(user, status=422, refusal=_("Permintaan tidak valid."))
    active = form.active.data == "1"
    if not active and user.id == me().id:
        return _edit_page(user, status=403, refusal=_("Anda tidak dapat menonaktifkan akun Anda sendiri."))
    system().people.set_active(db(), user, active, by=me())
    if active:
        flash(_("Akun %(name)s aktif kembali.", name=user.username), "success")
    else:
        flash(_("Akun %(name)s dinonaktifkan; semua sesinya berakhir.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/pengguna/<id:user_id>/sandi")
@role_required("admin")
def reset_password(user_id: int):
    user = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        return _edit_page(user, status=422, refusal=_("Permintaan tidak valid."))
    password = secrets.token_urlsafe(NEW_PASSWORD_BYTES)
    # Every session and API token of the user ends; an admin resetting their own password keeps this session.
    keep = my_session_id() if user.id == me().id else None
    system().people.reset_password(db(), user, password, by=me(), keep_session=keep)
    return _secret_page("admin/password_shown.html", user=user, password=password, created=False)


@bp.route("/tim", methods=["GET", "POST"])
@role_required("admin")
def teams():
    form = TeamForm()
    if form.validate_on_submit():
        code = form.code.data.strip()
        if _team_taken(code):
            form.code.errors.append(_("Kode tim '%(code)s' sudah dipakai.", code=code))
        else:
            try:
                system().people.add_team(db(), code, form.name.data, actor=me().actor)
            except BadRequest as exc:
                form.code.errors.append(i18n.error_text(exc))
            else:
                flash(_("Tim %(name)s ditambahkan.", name=form.name.data.strip()), "success")
                return redirect(url_for("admin.teams"))
    members = dict(db().execute(select(User.team_id, func.count(User.id)).group_by(User.team_id)).all())
    return _render("admin/teams.html", 422 if form.is_submitted() else 200, form=form, teams=_teams(),
                   members=members)


@bp.route("/grup", methods=["GET", "POST"])
@role_required("admin")
def groups():
    """Every group, the lanes it works and how many members it has; a new group (code and name)."""
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = system().people.add_group(db(), form.code.data, form.name.data, by=me())
        except BadRequest as exc:
            (form.name if exc.code == "group.name_taken" else form.code).errors.append(i18n.error_text(exc))
        else:
            flash(_("Grup %(name)s ditambahkan. Tambahkan anggotanya di halaman grup.", name=group.name),
                  "success")
            return redirect(url_for("admin.groups"))
    return _render("admin/groups.html", 422 if form.is_submitted() else 200, form=form, rows=_group_rows())


def _group_rows() -> list[dict]:
    session, lanes = db(), lane_map()
    counts = dict(session.execute(select(UserGroup.group_id, func.count(UserGroup.user_id))
                                  .join(User, User.id == UserGroup.user_id).where(User.active.is_(True))
                                  .group_by(UserGroup.group_id)).all())
    return [{"group": g, "members": counts.get(g.id, 0),
             "lanes": sorted(lanes.lanes_for(frozenset({g.code}), frozenset({g.name})), key=lane_key)}
            for g in system().people.groups(session)]


def _group_or_404(group_id: int) -> Group:
    group = db().get(Group, group_id)
    if group is None:
        raise NotFound(f"no group {group_id}", code="group.not_found", group=group_id)
    return group


@bp.route("/grup/<id:group_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_group(group_id: int):
    """One group: its members and lanes; a new name (its code stays)."""
    group = _group_or_404(group_id)
    form = GroupRenameForm(data={"name": group.name}) if request.method == "GET" else GroupRenameForm()
    if request.method == "POST" and form.validate():
        try:
            system().people.rename_group(db(), group, form.name.data, by=me())
        except BadRequest as exc:
            form.name.errors.append(i18n.error_text(exc))
        else:
            flash(_("Grup %(code)s sekarang bernama %(name)s.", code=group.code, name=group.name), "success")
            return redirect(url_for("admin.edit_group", group_id=group.id))
    return _group_page(group, form=form, status=422 if request.method == "POST" else 200)


def _member_form(members: list[User], from_request: bool = True) -> GroupMemberForm:
    """Who may join: the active users not in the group yet."""
    form = GroupMemberForm() if from_request else GroupMemberForm(formdata=None)
    inside = {u.id for u in members}
    users = db().execute(select(User).where(User.active.is_(True)).order_by(User.username)).scalars()
    form.username.choices = [SelectChoice("", _("(pilih pengguna)"))] + [
        SelectChoice(u.username, f"{u.full_name} ({u.username})" if u.full_name else u.username)
        for u in users if u.id not in inside]
    return form


def _group_page(group: Group, *, form: GroupRenameForm | None = None, member_form: GroupMemberForm | None = None,
                status: int = 200, refusal: str | None = None):
    members = system().people.members(db(), group)
    if form is None:
        form = GroupRenameForm(formdata=None, data={"name": group.name})
    if member_form is None:
        member_form = _member_form(members, from_request=False)
    lanes = sorted(lane_map().lanes_for(frozenset({group.code}), frozenset({group.name})), key=lane_key)
    return _render("admin/group.html", status, group=group, form=form, member_form=member_form,
                   remove_form=ConfirmForm(formdata=None), members=members, lanes=lanes, refusal=refusal)


@bp.post("/grup/<id:group_id>/anggota")
@role_required("admin")
def add_member(group_id: int):
    """One more member of the group (a lane worked only for the case's team needs members with a team)."""
    group = _group_or_404(group_id)
    members = system().people.members(db(), group)
    form = _member_form(members)
    if not form.validate() or not form.username.data:
        if not form.username.errors:
            form.username.errors.append(_("Pilih pengguna yang ditambahkan."))
        return _group_page(group, member_form=form, status=422)
    target = system().people.find_user(db(), form.username.data)
    scoped = _team_lanes([group.code])
    if scoped and target.team is None:
        form.username.errors.append(_("Anggota grup yang mengerjakan lajur %(lanes)s harus masuk satu tim: tugas lajur "
                                      "itu hanya untuk tim kegiatan.", lanes=", ".join(scoped)))
        return _group_page(group, member_form=form, status=422)
    system().people.change_members(db(), group, add=[target.username], by=me())
    flash(_("%(name)s sekarang anggota grup %(group)s.", name=target.username, group=group.name), "success")
    return redirect(url_for("admin.edit_group", group_id=group.id) + "#anggota")


@bp.post("/grup/<id:group_id>/anggota/<id:user_id>/keluarkan")
@role_required("admin")
def remove_member(group_id: int, user_id: int):
    group, target = _group_or_404(group_id), _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        return _group_page(group, status=422, refusal=_("Permintaan tidak valid."))
    try:
        system().people.change_members(db(), group, remove=[target.username], by=me())
    except (BadRequest, NotPermitted) as exc:
        return _group_page(group, status=403 if isinstance(exc, NotPermitted) else 422,
                           refusal=i18n.error_text(exc))
    flash(_("%(name)s dikeluarkan dari grup %(group)s.", name=target.username, group=group.name), "success")
    return redirect(url_for("admin.edit_group", group_id=group.id) + "#anggota")


@bp.get("/surel")
@role_required("admin")
def mail():
    session = db()
    return _render("admin/mail.html", settings=system().settings.mail, counts=outbox.counts(session),
                   problems=outbox.problems(session), form=ConfirmForm())


@bp.post("/surel/<id:outbox_id>/ulang")
@role_required("admin")
def requeue_mail(outbox_id: int):
    if not ConfirmForm().validate_on_submit():
        flash(_("Permintaan tidak valid."), "error")
        return redirect(url_for("admin.mail")), 303
    now = system().clock.now()
    row = outbox.requeue(db(), outbox_id, now, actor=me().actor)
    if row is None:
        flash(_("Surel itu sudah terkirim atau tidak ada."), "error")
    else:
        flash(_("Surel untuk %(to)s dijadwalkan dikirim ulang sekarang.", to=row.to_addr), "success")
    return redirect(url_for("admin.mail"))
