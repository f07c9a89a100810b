"""The one catalogue of messages for people: every error, refusal and notification the application gives, by code.

The layers below the web never write a sentence for people. An error carries a ``code`` and its ``params``
(engine/errors.py), a refused value a rule code (process/inputs.py, process/forms.py), a notification its kind
and params (process/notify.py); :data:`MESSAGES` maps each code to one Indonesian msgid with ``%(name)s``
placeholders, and :func:`render` turns a code and its params into text in the reader's language. The web pages,
the JSON API, the command line and the e-mails all go through it, so a message exists once and its English
translation (webui/translations/en/LC_MESSAGES/messages.po, the same catalogue Flask-Babel reads) cannot drift
from it: ``tests/test_i18n.py`` extracts this module too and fails for a msgid without a translation, and
``tests/test_messages.py`` fails for a code raised anywhere in engine/ or process/ that has no entry here.

This module knows no Flask: it reads the compiled catalogue with :mod:`babel.support` (the web layer passes the
request's own catalogue instead, webui/i18n.py). Bahasa Indonesia is the source language: its text is the msgid.

Parameters are formatted for the reader's language by their kind and name:

* a mapping ``{"code": ..., "params": {...}}`` is a message of its own, rendered in the same language (a part
  that has its own words, e.g. what was too large, or the role that sent a case back);
* a list is written as a list, each item formatted the same way;
* a float is a decimal number as the language writes it (``199,8`` / ``199.8``);
* a name ending in ``_at`` is a moment (a datetime, or its ISO text), written as process/timefmt.py writes one;
  ``_bytes`` a size (``1,5 MB``), ``_seconds`` a duration (``2 jam`` / ``2 hours``).

A code this catalogue does not know is never shown raw: :func:`error_text` falls back to the text of the error's
class (``not_found``, ``bad_request`` ...), found along the class hierarchy.
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations


def N_(message: str) -> str:
    """Marks a msgid for extraction (pybabel's default keywords); translated when rendered."""
    return message


#: The language the msgids are written in, and the other one the application speaks.
SOURCE_LOCALE = "id"
LOCALES = ("id", "en")
#: The compiled catalogue the web app reads (webui/translations, shipped with the webui package as package data):
#: one catalogue for every layer, so process/ reads it by path rather than keeping a second copy.
TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "webui" / "translations"

#: code → Indonesian msgid. Grouped by where the code comes from.
MESSAGES: dict[str, str] = {
    # -- The generic text of each error class (engine/errors.py, process/errors.py): used when an error names no
    #    code this catalogue knows.
    "engine_error": N_("Data tidak dapat diproses."),
    "not_found": N_("Data yang diminta tidak ditemukan."),
    "not_permitted": N_("Anda tidak berhak melakukan tindakan ini."),
    "self_approval": N_("Anda menyerahkan dokumentasi kasus ini, jadi tidak dapat memutuskannya sendiri."),
    "not_claimed": N_("Tugas ini harus Anda ambil terlebih dahulu, atau sedang dipegang orang lain."),
    "already_claimed": N_("Tugas ini sudah diambil orang lain."),
    "task_not_ready": N_("Tugas ini sudah tidak menunggu tindakan."),
    "stale_instance": N_("Kasus ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."),
    "invalid_definition": N_("Diagram tidak dapat diterima."),
    "migration_refused": N_("Kasus tidak dapat dipindahkan ke versi itu."),
    "invalid_data": N_("Data tidak dapat diterima."),
    "execution_failed": N_("Proses tidak dapat dilanjutkan dengan data ini."),
    "chain_broken": N_("Riwayat kejadian tidak utuh. Hubungi administrator."),
    "bad_request": N_("Permintaan tidak dapat diproses."),
    "conflict": N_("Permintaan ini bertentangan dengan data yang sudah ada."),
    "too_large": N_("Berkas terlalu besar."),
    "form_invalid": N_("Formulir tidak sah."),
    # -- The engine (engine/runtime.py, engine/replay.py)
    "case.changed": N_("Kasus ini baru saja diubah orang lain. Muat ulang halaman lalu coba lagi."),
    "case.not_found": N_("Kasus #%(case)s tidak ada."),
    "case.not_running": N_("Kasus ini sudah tidak berjalan."),
    "case.migration_failed": N_("Kasus tidak dapat dipindahkan ke versi itu."),
    "plan.mapping_invalid": N_("Pemetaan langkah pada rencana pemindahan tidak dapat dipakai; tidak ada kasus "
                                    "yang dipindahkan."),
    "task.not_found": N_("Tugas tidak ditemukan."),
    "task.not_ready": N_("Tugas \u201c%(task)s\u201d sudah tidak menunggu tindakan."),
    "task.already_claimed": N_("Tugas \u201c%(task)s\u201d sudah diambil orang lain."),
    "task.not_held": N_("Tugas \u201c%(task)s\u201d tidak sedang Anda pegang."),
    "task.changed_hands": N_("Tugas \u201c%(task)s\u201d baru saja berpindah tangan. Muat ulang halaman lalu coba "
                             "lagi."),
    "task.completion_failed": N_("Tugas tidak dapat diselesaikan: proses tidak dapat dilanjutkan dengan data ini. "
                                 "Pemilik proses perlu memeriksa diagram."),
    "case.advance_failed": N_("Proses tidak dapat dilanjutkan dengan data ini. Pemilik proses perlu memeriksa "
                                 "diagram."),
    "definition.not_deployed": N_("Proses \u201c%(process)s\u201d belum diterapkan. Pemilik proses perlu menerapkan "
                               "diagramnya."),
    "definition.version_missing": N_("Versi %(version)s proses \u201c%(process)s\u201d tidak tersimpan."),
    "definition.version_not_found": N_("Versi %(version)s tidak ada."),
    "data.keys_not_allowed": N_("Nama data ini tidak diizinkan: %(keys)s. Nama data hanya boleh berisi huruf, angka "
                                "dan _, diawali huruf."),
    "replay.second_start": N_("Riwayat memuat kejadian awal kasus (case_started) yang kedua."),
    "replay.after_error": N_("Kasus sudah terhenti karena galat sebelum kejadian ini."),
    "replay.no_start": N_("Riwayat tidak memuat kejadian awal kasus (case_started) sebelum kejadian ini."),
    "replay.no_history": N_("Riwayat kasus ini tidak memuat kejadian awal kasus (case_started)."),
    "replay.migrated": N_("Dipindahkan: eksekusi ulang berlanjut pada versi %(version)s."),
    "replay.engine_refused": N_("Mesin tidak dapat mengeksekusi ulang langkah ini: %(problem)s"),
    "replay.failed_as_recorded": N_("Langkah ini berhenti karena galat, sama seperti yang tercatat: %(problem)s"),
    "replay.not_waiting": N_("Langkah %(task)s tidak sedang menunggu pada kasus yang dieksekusi ulang (yang "
                             "menunggu: %(waiting)s)."),
    "replay.projection_agrees": N_("Kasus yang tersimpan sesuai dengan riwayatnya."),
    "replay.projection_differs": N_("Kasus yang tersimpan berbeda dari hasil eksekusi ulang riwayatnya."),
    "replay.cancelled": N_("Dibatalkan: langkah yang menunggu berakhir, tidak ada lagi yang berjalan pada kasus "
                           "ini."),
    "replay.after_cancel": N_("Kasus sudah dibatalkan sebelum kejadian ini."),
    # -- The SOP layer
    "case.not_visible": N_("Anda tidak berhak melihat kasus ini."),
    # -- Reassigning, cancelling, commenting (process/caseops.py)
    "case.cancelled": N_("Kasus “%(title)s” sudah dibatalkan (alasan: %(reason)s); tidak ada tindakan "
                         "lain yang dapat dilakukan padanya."),
    "case.cancel_not_permitted": N_("Hanya pimpinan prosedur, administrator, atau pembuat kasus (selama belum ada "
                                    "langkah yang diserahkan) yang dapat membatalkan kasus."),
    "case.cancel_handed_in": N_("Sudah ada langkah kasus ini yang diserahkan; kini hanya pimpinan prosedur atau "
                                "administrator yang dapat membatalkannya."),
    "case.comment_read_only": N_("Auditor hanya membaca; komentar tidak dapat ditambahkan."),
    "task.reassign_not_lead": N_("Hanya pimpinan prosedur (mis. Pimpinan Redaksi) atau administrator yang dapat "
                                 "mengalihkan tugas."),
    "task.reassign_not_ready": N_("Tugas “%(task)s” sudah tidak menunggu, jadi tidak dapat dialihkan."),
    "task.choose_reassignee": N_("Pilih siapa yang akan menerima tugas."),
    "task.reassign_unknown_user": N_("Pengguna “%(user)s” tidak dikenal."),
    "task.reassign_inactive": N_("Akun %(name)s tidak aktif; tugas tidak dapat dialihkan kepadanya."),
    "task.reassign_outside_lane": N_("%(name)s tidak bekerja di lajur “%(lane)s”; tugas hanya dapat "
                                     "dialihkan kepada orang di lajurnya."),
    "task.reassign_other_team": N_("%(name)s bukan anggota tim kasus ini; tugas lajur tim hanya dapat dialihkan "
                                   "kepada anggota tim kasus."),
    "task.reassign_same_holder": N_("%(name)s sudah memegang tugas ini."),
    "label.reason": N_("Alasan"),
    "label.cancel_reason": N_("Alasan pembatalan"),
    "label.comment": N_("Komentar"),
    "modeling.owner_only": N_("Hanya pemilik proses yang dapat memvalidasi, menerapkan atau memigrasikan diagram."),
    "upload.too_large": N_("%(what)s terlalu besar: %(size_bytes)s; batasnya %(limit_bytes)s."),
    "upload.too_large_unknown": N_("%(what)s terlalu besar: lebih dari %(limit_bytes)s."),
    "upload.what.image": N_("Foto ini"),
    "upload.what.file": N_("Berkas ini"),
    "upload.what.diagram": N_("Diagram ini"),
    "upload.what.request": N_("Isi permintaan ini"),
    "upload.image_too_large": N_("Foto terlalu besar: %(width)s × %(height)s piksel (%(megapixels)s megapiksel), "
                                 "batasnya %(max_megapixels)s megapiksel. Perkecil resolusinya (mis. kirim ulang "
                                 "dari galeri ponsel dengan ukuran lebih kecil) lalu unggah lagi."),
    "upload.unsupported": N_("Jenis berkas tidak didukung: unggah foto (JPEG, PNG, WebP, HEIC), video (MP4, MOV, "
                             "WebM) atau PDF."),
    "upload.empty": N_("Berkas kosong."),
    "upload.not_an_image": N_("Bukan foto yang dapat dibaca."),
    "upload.busy": N_("Bagian lain dari unggahan ini sedang diterima; coba lagi sebentar lagi."),
    "upload.offset": N_("Unggahan ini sudah sampai bita ke-%(expected)s, bukan ke-%(given)s; lanjutkan dari sana."),
    "upload.gone": N_("Unggahan tidak ditemukan (mungkin sudah kedaluwarsa); pilih berkasnya lagi."),
    "upload.tus_version": N_("Versi protokol tus tidak didukung; server ini memakai tus 1.0.0."),
    "upload.length_missing": N_("Panjang unggahan (Upload-Length) tidak ada atau bukan bilangan bulat."),
    "upload.offset_missing": N_("Posisi potongan (Upload-Offset) tidak ada atau bukan bilangan bulat."),
    "upload.content_type": N_("Potongan unggahan harus dikirim sebagai application/offset+octet-stream."),
    "upload.metadata": N_("Upload-Metadata tidak dapat dibaca (pasangan kunci dan nilai base64)."),
    "upload.staff_only": N_("Hanya petugas yang mengerjakan tugas yang dapat mengunggah berkas."),
    # -- People (process/people.py)
    "user.password_too_short": N_("Kata sandi minimal %(n)s karakter."),
    "user.no_role": N_("Setiap pengguna perlu setidaknya satu peran atau satu grup."),
    "user.role_unknown": N_("Peran tidak dikenal: %(role)s (pilihan: %(roles)s)."),
    "user.username_taken": N_("Nama pengguna “%(username)s” sudah dipakai."),
    "user.unknown": N_("Pengguna “%(username)s” tidak ditemukan."),
    "user.self_deactivate": N_("Anda tidak dapat menonaktifkan akun Anda sendiri."),
    "user.self_unadmin": N_("Anda tidak dapat mencabut peran Administrator dari akun Anda sendiri."),
    "user.nip_taken": N_("NIP %(nip)s sudah dipakai oleh pengguna aktif “%(username)s”."),
    "user.email_invalid": N_("Alamat surel “%(email)s” tidak sah (contoh: nama@kpu.go.id)."),
    "team.unknown": N_("Tim “%(team)s” tidak dikenal."),
    "team.code_taken": N_("Kode tim “%(team)s” sudah dipakai."),
    "group.unknown": N_("Grup “%(group)s” tidak dikenal."),
    "group.code_taken": N_("Kode grup “%(group)s” sudah dipakai."),
    "group.name_taken": N_("Nama grup “%(name)s” sudah dipakai oleh grup “%(group)s”."),
    # -- Who may do what (process/permissions.py), tasks (process/tasks.py), cases (process/cases.py)
    "user.inactive": N_("Akun Anda tidak aktif."),
    "task.wrong_lane": N_("Tugas ini untuk lajur %(lane)s; grup Anda tidak mengerjakannya."),
    "task.other_team": N_("Tugas ini hanya untuk anggota tim pelaksana kegiatan tersebut."),
    "task.waiting_no_more": N_("Tugas ini sudah tidak menunggu (sudah diselesaikan atau dibatalkan)."),
    "task.claim_first": N_("Ambil tugas ini terlebih dahulu sebelum menyelesaikannya."),
    "task.held_by_other": N_("Tugas ini sedang dipegang orang lain."),
    "task.self_approval": N_("Anda sudah mengerjakan langkah “%(step)s” pada kasus ini, jadi tidak dapat "
                             "mengerjakan langkah ini juga (pemisahan tugas)."),
    "task.delegate_outside_lane": N_("Tugas hanya dapat didelegasikan kepada anggota lain dari lajur yang sama."),
    "task.delegate_self": N_("Tugas tidak dapat didelegasikan kepada diri sendiri."),
    "procedure.unknown": N_("Prosedur “%(procedure)s” tidak dikenal."),
    "case.start_not_in_lane": N_("Hanya anggota grup yang mengerjakan lajur %(lane)s yang dapat membuat kasus baru."),
    "case.start_no_lane": N_("Hanya anggota grup yang mengerjakan lajur prosedur ini yang dapat membuat kasus baru."),
    "case.not_team_member": N_("Anda bukan anggota tim “%(team)s”."),
    # A completeness rule of the diagram (alur:require): its own sentence (the diagram's language), or the standard one.
    "field.declared_rule": N_("Belum lengkap: %(message)s"),
    "field.required_when": N_("%(fields)s wajib diisi atau dicentang bila %(field)s adalah “%(option)s”."),
    "field.required_choice": N_("wajib dipilih."),
    # -- How a new version changes the procedure's rules (process/declarations.py rule_changes)
    "rule.step_number": N_("Nomor langkah “%(step)s”: %(old)s → %(new)s."),
    "rule.step_numbered": N_("Langkah “%(step)s” kini bernomor %(new)s."),
    "rule.step_unnumbered": N_("Langkah “%(step)s” tidak lagi bernomor (sebelumnya %(old)s)."),
    "rule.deadline_required": N_("Langkah “%(step)s” kini wajib memiliki batas waktu."),
    "rule.deadline_optional": N_("Batas waktu langkah “%(step)s” kini opsional."),
    "rule.return_added": N_("Pada langkah “%(step)s”, pilihan “%(value)s” kini mengembalikan kasus ke “%(to)s”."),
    "rule.return_removed": N_("Pada langkah “%(step)s”, pilihan “%(value)s” tidak lagi mengembalikan kasus ke "
                              "“%(to)s”."),
    "rule.separate_added": N_("Yang mengerjakan “%(other)s” kini tidak boleh mengerjakan “%(step)s”."),
    "rule.separate_removed": N_("Yang mengerjakan “%(other)s” kini boleh mengerjakan “%(step)s”."),
    "rule.require_added": N_("Langkah “%(step)s”: %(fields)s kini wajib bila %(when)s = “%(equals)s”."),
    "rule.require_removed": N_("Langkah “%(step)s”: %(fields)s tidak lagi wajib bila %(when)s = “%(equals)s”."),
    "rule.response_on": N_("Langkah “%(step)s” kini menghasilkan tanggapan tertulis."),
    "rule.response_off": N_("Langkah “%(step)s” tidak lagi menghasilkan tanggapan tertulis."),
    "rule.register_at": N_("Nomor register kini diberikan pada langkah “%(step)s”."),
    "rule.register_none": N_("Tidak ada lagi langkah yang memberi nomor register."),
    "rule.lane_team_scoped": N_("Lajur “%(lane)s” kini hanya untuk tim pembuat kasus."),
    "rule.lane_all_teams": N_("Lajur “%(lane)s” kini untuk semua anggotanya, bukan hanya tim pembuat kasus."),
    "rule.lane_hears_overdue": N_("Lajur “%(lane)s” kini diberi tahu setiap langkah yang terlambat."),
    "rule.lane_leads": N_("Lajur “%(lane)s” kini memimpin prosedur: dapat mengalihkan tugas dan membatalkan kasus."),
    "rule.lane_leads_no_more": N_("Lajur “%(lane)s” tidak lagi memimpin prosedur."),
    "rule.lane_not_told": N_("Lajur “%(lane)s” tidak lagi diberi tahu setiap langkah yang terlambat."),
    "rule.outcome_added": N_("Hasil akhir baru: “%(outcome)s”."),
    "rule.outcome_removed": N_("Hasil akhir “%(outcome)s” tidak ada lagi."),
    # -- Field labels of the process layer's own inputs (the diagram's fields carry their own labels)
    "label.username": N_("Nama pengguna"),
    "label.full_name": N_("Nama lengkap"),
    "label.team_code": N_("Kode tim"),
    "label.team_name": N_("Nama tim"),
    "label.group_code": N_("Kode grup"),
    "label.group_name": N_("Nama grup"),
    "label.email": N_("Surel"),
    "label.nip": N_("NIP"),
    "label.jabatan": N_("Jabatan"),
    "label.activity_name": N_("Nama kegiatan"),
    "label.activity_date": N_("Tanggal kegiatan"),
    "label.activity_place": N_("Tempat kegiatan"),
    "label.team": N_("Tim"),
    # -- The web layer and the API (webui/)
    "api.not_json": N_("Isi permintaan harus JSON (Content-Type: application/json)."),
    "api.not_an_object": N_("Isi permintaan harus berupa objek JSON yang sah."),
    "api.if_match": N_("Header If-Match harus berisi lock_version kasus, mis. \"3\"."),
    "api.version_mismatch": N_("_version dan If-Match berbeda."),
    "api.owner_only": N_("Hanya pemilik proses yang dapat mengelola diagram proses."),
    "api.upload_staff_only": N_("Hanya petugas yang mengerjakan langkah SOP yang dapat mengunggah berkas."),
    "task.not_visible": N_("Anda tidak berhak melihat tugas ini."),
    "task.not_openable": N_("Anda tidak berhak membuka tugas ini."),
    "task.choose_delegate": N_("Pilih anggota yang akan menerima tugas ini."),
    "user.not_found": N_("Pengguna tidak ditemukan."),
    "group.not_found": N_("Grup tidak ditemukan."),
    "report.date_unreadable": N_("%(label)s tidak dapat dibaca: gunakan format TTTT-BB-HH (misalnya 2025-05-06)."),
    "report.period_reversed": N_("Tanggal akhir tidak boleh sebelum tanggal awal."),
    "report.format_unknown": N_("Format unduhan tidak dikenal: pilih XLSX, CSV atau PDF."),
    "report.signer_unknown": N_("Penanda tangan %(block)s tidak dikenal: pilih pengguna aktif dari daftar."),
    "report.basis_unknown": N_("Dasar periode tidak dikenal: pilih salah satu pilihan \u201cPeriode menurut\u201d."),
    # -- Sorting, saved filters and search (process/sorting.py, process/savedfilters.py, process/search.py)
    "sort.unknown": N_("Urutan \u201c%(value)s\u201d tidak dikenal: pilih salah satu dari %(options)s."),
    "sort.order_unknown": N_("Arah urutan \u201c%(value)s\u201d tidak dikenal: pilih asc (naik) atau desc (turun)."),
    "saved_filter.view_unknown": N_("Daftar \u201c%(value)s\u201d tidak dikenal: pilih inbox atau cases."),
    "saved_filter.name_required": N_("Beri nama filter (1 sampai %(n)s karakter, tanpa karakter kendali)."),
    "saved_filter.duplicate": N_("Anda sudah memiliki filter bernama \u201c%(name)s\u201d untuk daftar ini."),
    "saved_filter.too_many": N_("Anda sudah menyimpan %(n)s filter untuk daftar ini; hapus salah satu dahulu."),
    "saved_filter.param_unknown": N_("Parameter \u201c%(name)s\u201d tidak dikenal untuk daftar ini: gunakan "
                                     "%(options)s."),
    "saved_filter.param_invalid": N_("Nilai parameter \u201c%(name)s\u201d tidak sah."),
    "saved_filter.params_not_object": N_("Parameter filter harus berupa objek JSON berisi teks."),
    "saved_filter.not_found": N_("Filter tersimpan tidak ditemukan."),
    # -- Export jobs (process/exportjobs.py): records of large periods, made by the worker as files
    "export.kind_unknown": N_("Jenis unduhan tidak dikenal: pilih register, tanggapan, rekap atau log."),
    "export.format_unknown": N_("Format unduhan tidak dikenal: pilih %(formats)s."),
    "export.case_not_allowed": N_("Hanya tanggapan tertulis dan log kejadian yang dapat diunduh untuk satu kasus."),
    "export.period_missing": N_("Pilih periode (tanggal awal dan akhir) atau satu kasus."),
    "export.no_recap": N_("Prosedur ini tidak memiliki rekapitulasi unggahan."),
    "export.failed": N_("Terjadi galat saat menyusun berkas. Coba lagi; bila terulang, hubungi administrator."),
    "export.worker_stopped": N_("Pekerja latar berhenti %(attempts)s kali saat menyusun berkas ini, jadi tidak "
                                "dicoba lagi. Hubungi administrator."),
    "export.expired": N_("Berkas unduhan ini sudah dihapus karena melewati masa simpannya. Siapkan lagi."),
    "export.not_ready": N_("Berkas unduhan ini belum siap."),
    "export.label": N_("%(what)s (%(format)s), %(scope)s"),
    "export.scope_period": N_("%(start)s s.d. %(end)s"),
    "export.scope_case": N_("kasus #%(case)s"),
    "export.kind.register": N_("Register"),
    "export.kind.tanggapan": N_("Tanggapan tertulis"),
    "export.kind.rekap": N_("Rekapitulasi"),
    "export.kind.log": N_("Log kejadian"),
    "audit.no_history": N_("Kasus #%(case)s belum punya riwayat."),
    "audit.step_missing": N_("Langkah %(n)s tidak ada."),
    # -- Refusals of the input rules (process/inputs.py) and of a form's fields (process/forms.py): the sentence
    #    after the field's label. ``field.<rule>`` unless the refusal names a more specific key.
    "field.required": N_("wajib diisi."),
    "field.required_checkbox": N_("harus dicentang."),
    "field.required_post": N_("wajib diisi (minimal satu unggahan)."),
    "field.type": N_("harus berupa teks."),
    "field.multiline": N_("harus satu baris (tanpa ganti baris)."),
    "field.control_char": N_("berisi karakter kontrol %(char)s (%(char_name)s) yang tidak diizinkan."),
    "field.invalid_char": N_("berisi karakter %(char)s yang bukan teks."),
    "field.minlength": N_("minimal %(n)s karakter (sekarang %(length)s)."),
    "field.maxlength": N_("maksimal %(n)s karakter (sekarang %(length)s)."),
    "field.no_letter": N_("harus memuat setidaknya satu huruf atau angka."),
    "field.username": N_("hanya boleh berisi huruf a–z, angka, titik, garis bawah dan tanda hubung, diawali huruf "
                         "atau angka (tanpa spasi, huruf beraksen atau huruf lain)."),
    "field.team_code": N_("hanya boleh berisi huruf kecil a–z, angka, garis bawah dan tanda hubung."),
    "field.task_mapping": N_("harus berupa pasangan {ID langkah lama: ID langkah baru} (teks, paling banyak "
                             "%(n)s pasangan)."),
    "field.task_keep": N_("harus berupa daftar ID langkah lama (teks, paling banyak %(n)s, tidak juga "
                          "dipetakan)."),
    "field.nip_length": N_("harus %(n)s angka (spasi di antara kelompok angka boleh), mis. 19870412 201001 2 003."),
    "field.nip_birth": N_("delapan angka pertama (%(value)s) harus tanggal lahir yang sah, TTTTBBHH."),
    "field.nip_appointment": N_("angka ke-9 sampai ke-14 (%(value)s) harus tahun dan bulan pengangkatan CPNS yang "
                                "sah, TTTTBB."),
    "field.nip_age": N_("pengangkatan CPNS (angka ke-9 sampai ke-14) harus pada atau setelah ulang tahun ke-%(n)s."),
    "field.nip_sex": N_("angka ke-15 (jenis kelamin) harus 1 atau 2."),
    "field.nip_sequence": N_("tiga angka terakhir (nomor urut) harus 001 atau lebih."),
    "field.group_code": N_("harus diawali huruf kecil a–z, lalu hanya huruf kecil, angka dan garis bawah."),
    "field.date": N_("harus tanggal dengan format TTTT-BB-HH, mis. 2025-05-06."),
    "field.date_invalid": N_("tanggal tidak sah."),
    "field.date_window": N_("harus antara %(first)s dan %(last)s."),
    "field.datetime": N_("harus tanggal dan jam, mis. 2025-05-06T14:30."),
    "field.datetime_invalid": N_("tanggal/jam tidak sah."),
    "field.datetime_range": N_("tanggal/jam di luar rentang yang dapat diterima."),
    "field.url": N_("harus berupa alamat tautan (URL)."),
    "field.url_too_long": N_("tautan terlalu panjang (maksimal %(n)s karakter)."),
    "field.url_spaces": N_("tautan tidak boleh berisi spasi atau karakter kontrol."),
    "field.url_invalid": N_("tautan tidak sah."),
    "field.url_scheme": N_("tautan harus diawali http:// atau https://."),
    "field.url_host": N_("tautan harus memuat nama host, mis. https://www.instagram.com/..."),
    "field.url_credentials": N_("tautan tidak boleh memuat nama pengguna atau kata sandi."),
    "field.integer": N_("harus berupa bilangan bulat."),
    "field.integer_too_large": N_("angka terlalu besar."),
    "field.min": N_("minimal %(n)s."),
    "field.max": N_("maksimal %(n)s."),
    "field.min_date": N_("tidak boleh sebelum %(date)s."),
    "field.max_date": N_("tidak boleh setelah %(date)s."),
    "field.boolean": N_("harus ya atau tidak."),
    "field.boolean_literal": N_("harus true atau false."),
    "field.enum": N_("pilihan tidak sah (pilih salah satu: %(options)s)."),
    "field.list_files": N_("harus berupa daftar berkas."),
    "field.list_posts": N_("harus berupa daftar unggahan."),
    "field.max_items_files": N_("terlalu banyak berkas (maksimal %(n)s)."),
    "field.max_items_posts": N_("terlalu banyak unggahan (maksimal %(n)s)."),
    "field.file_id": N_("berkas ke-%(number)s tidak sah."),
    "field.file_duplicate": N_("berkas ke-%(number)s dikirim dua kali."),
    "field.file_missing": N_("berkas ke-%(number)s tidak ditemukan."),
    "field.file_kind": N_("berkas ke-%(number)s berjenis %(kind)s; yang diterima: %(accepted)s."),
    "file_kind.image": N_("gambar/foto"),
    "file_kind.video": N_("video"),
    "file_kind.document": N_("dokumen"),
    "file_kind.other": N_("berkas lain"),
    "field.min_files": N_("minimal %(n)s berkas."),
    "field.max_files": N_("maksimal %(n)s berkas."),
    "field.post": N_("unggahan ke-%(number)s tidak sah."),
    "field.post_keys": N_("unggahan ke-%(number)s: isian tidak dikenal %(keys)s."),
    "field.post_platform_required": N_("unggahan ke-%(number)s: platform wajib diisi."),
    "field.post_platform": N_("unggahan ke-%(number)s: platform tidak dikenal (pilih salah satu: %(platforms)s)."),
    "field.post_duplicate": N_("unggahan ke-%(number)s: platform %(platform)s tercantum dua kali."),
    "field.post_url_required": N_("unggahan ke-%(number)s: tautan wajib diisi."),
    "field.post_url": N_("unggahan ke-%(number)s: %(problem)s"),
    "field.post_waktu_required": N_("unggahan ke-%(number)s: waktu unggah wajib diisi."),
    "field.post_waktu": N_("unggahan ke-%(number)s: waktu unggah %(problem)s"),
    "field.post_future": N_("unggahan ke-%(number)s: waktu unggah tidak boleh di masa depan."),
    # The same, for a row whose platform is known: named by it (the person sees which row to mend).
    "field.post_url_required_on": N_("unggahan %(platform)s: tautan wajib diisi."),
    "field.post_url_on": N_("unggahan %(platform)s: %(problem)s"),
    "field.post_waktu_required_on": N_("unggahan %(platform)s: waktu unggah wajib diisi."),
    "field.post_waktu_on": N_("unggahan %(platform)s: waktu unggah %(problem)s"),
    "field.post_future_on": N_("unggahan %(platform)s: waktu unggah tidak boleh di masa depan."),
    "field.min_posts": N_("minimal %(n)s unggahan."),
    "field.max_posts": N_("maksimal %(n)s unggahan."),
    "field.field_name": N_("nama field tidak sah."),
    "field.unknown_field": N_("field tidak dikenal."),
    "field.unknown_parameter": N_("parameter ini tidak dikenal di sini (yang dikenal: %(options)s)."),
    "field.file_upload": N_("wajib diisi (multipart/form-data dengan field \"file\")."),
    "field.recipient": N_("nama pengguna penerima wajib diisi."),
    "field.query": N_("maksimal 100 karakter tanpa karakter kontrol."),
    "field.cursor": N_("penanda halaman tidak dapat dibaca (bukan dari daftar dan urutan ini); mulai lagi dari "
                       "halaman pertama."),
    "field.upload": N_("%(file)s: %(problem)s"),
    "field.id": N_("harus nomor 1 sampai %(max)s."),
    "field.id_list": N_("daftar nomor 1 sampai %(max)s, 1 sampai %(n)s butir."),
    #: A refusal whose own sentence this catalogue does not have (the legacy path, in another language).
    "field.invalid": N_("nilai ini tidak dapat diterima."),
    # -- Roles (process/roles.py), for messages that name one
    "role.process_owner": N_("Pemilik Proses"),
    "role.auditor": N_("Auditor"),
    "role.admin": N_("Administrator"),
    # -- Notifications (process/notify.py), stored as kind + params and rendered when read
    "notice.task_ready": N_("Tugas baru: %(task)s — %(title)s."),
    "notice.task_ready_due": N_("Tugas baru: %(task)s — %(title)s. Batas waktu: %(due_at)s."),
    "notice.overdue": N_("Terlambat: %(task)s — %(title)s."),
    "notice.overdue_due": N_("Terlambat: %(task)s — %(title)s melewati batas waktu %(due_at)s."),
    "notice.returned": N_("Dikembalikan oleh %(who)s: %(title)s. Tanggapan: %(response)s"),
    "notice.delegated": N_("%(by)s mendelegasikan tugas kepada Anda: %(task)s — %(title)s."),
    "notice.reassigned": N_("%(by)s mengalihkan tugas kepada Anda: %(task)s — %(title)s. Alasan: %(reason)s"),
    "notice.reassigned_away": N_("%(by)s mengalihkan tugas %(task)s — %(title)s dari Anda kepada %(to)s. Alasan: "
                                 "%(reason)s"),
    "notice.case_cancelled": N_("%(by)s membatalkan kasus %(title)s. Alasan: %(reason)s"),
    "notice.commented": N_("%(by)s berkomentar pada kasus %(title)s: %(text)s"),
    "notice.deadline_soon": N_("Pengingat: batas waktu %(task)s — %(title)s %(relative)s (%(due_at)s)."),
    "notice.export_ready": N_("Unduhan siap: %(what)s. Tersedia sampai %(expires_at)s."),
    "notice.export_failed": N_("Unduhan gagal disiapkan: %(what)s. %(problem)s"),
    "notice_kind.task_ready": N_("tugas baru"),
    "notice_kind.overdue": N_("terlambat"),
    "notice_kind.returned": N_("dikembalikan"),
    "notice_kind.delegated": N_("didelegasikan"),
    "notice_kind.reassigned": N_("dialihkan kepada Anda"),
    "notice_kind.reassigned_away": N_("dialihkan dari Anda"),
    "notice_kind.case_cancelled": N_("kasus dibatalkan"),
    "notice_kind.commented": N_("komentar"),
    "notice_kind.deadline_soon": N_("pengingat batas waktu"),
    "notice_kind.export_ready": N_("unduhan siap"),
    "notice_kind.export_failed": N_("unduhan gagal"),
    # -- E-mails (process/mail.py); written in Bahasa Indonesia (an address has no language of its own)
    "mail.subject.task_ready": N_("Tugas baru: %(task)s — %(title)s"),
    "mail.subject.delegated": N_("Tugas didelegasikan kepada Anda: %(task)s — %(title)s"),
    "mail.subject.reassigned": N_("Tugas dialihkan kepada Anda: %(task)s — %(title)s"),
    "mail.subject.case_cancelled": N_("Kasus dibatalkan: %(title)s"),
    "mail.subject.deadline_soon": N_("Pengingat batas waktu: %(task)s — %(title)s"),
    "mail.subject.overdue": N_("TERLAMBAT: %(task)s — %(title)s"),
    "mail.subject.returned": N_("Dikembalikan untuk diperbaiki: %(title)s"),
    "mail.subject.other": N_("Pemberitahuan: %(title)s"),
    "mail.greeting": N_("Yth. %(name)s,"),
    "mail.open_task": N_("Buka tugas: %(url)s"),
    "mail.open_case": N_("Lihat kasus: %(url)s"),
    "mail.footer": N_("Pesan otomatis dari Alur Medsos, aplikasi prosedur kerja KPU Provinsi Sumatera Barat.\n"
                      "Mohon tidak membalas e-mail ini; tindak lanjuti lewat aplikasi."),
    # -- Time (process/timefmt.py)
    "time.in": N_("%(span_seconds)s lagi"),
    "time.overdue": N_("terlambat %(span_seconds)s"),
    "time.less_than_a_minute": N_("kurang dari 1 menit"),
    # -- Importing an SOP matrix from XLSX (process/sopimport.py); "kolom" is the spreadsheet's column letter
    "sop_import.refused": N_("Matriks SOP tidak dapat diimpor: %(count)s masalah."),
    "sop_import.at_cell": N_("Baris %(row)s, kolom %(column)s: %(text)s"),
    "sop_import.at_row": N_("Baris %(row)s: %(text)s"),
    "sop_import.not_xlsx": N_("berkas ini bukan buku kerja Excel (.xlsx) yang dapat dibaca."),
    "sop_import.too_large": N_("berkas terlalu besar: %(size_bytes)s; batasnya %(limit_bytes)s."),
    "sop_import.too_large_unpacked": N_("isi berkas terlalu besar setelah dibuka (batasnya %(limit_bytes)s)."),
    "sop_import.no_header": N_("judul kolom \u201cNo.\u201d dan \u201cUraian Prosedur\u201d tidak ditemukan di "
                               "lembar %(sheet)s."),
    "sop_import.header_missing": N_("kolom %(columns)s tidak ada di judul kolom."),
    "sop_import.no_actors": N_("tidak ada kolom pelaksana antara \u201cUraian Prosedur\u201d dan "
                               "\u201cKelengkapan\u201d."),
    "sop_import.too_many_actors": N_("terlalu banyak kolom pelaksana (maksimal %(n)s)."),
    "sop_import.actor_unnamed": N_("kolom pelaksana tanpa nama jabatan atau unit."),
    "sop_import.too_many_rows": N_("terlalu banyak baris kegiatan (maksimal %(n)s)."),
    "sop_import.no_rows": N_("tidak ada baris kegiatan di bawah judul kolom."),
    "sop_import.row_without_step": N_("baris berisi tetapi tanpa No. dan Uraian Prosedur."),
    "sop_import.number_invalid": N_("No. harus angka, bukan \u201c%(value)s\u201d."),
    "sop_import.number_twice": N_("No. %(number)s sudah dipakai di baris %(first)s."),
    "sop_import.number_order": N_("No. %(number)s ditulis sesudah No. %(before)s; urutkan baris menurut nomornya."),
    "sop_import.text_missing": N_("Uraian Prosedur kosong."),
    "sop_import.no_actor": N_("tidak ada pelaksana yang ditandai (kolom %(first)s sampai %(last)s); tandai satu "
                              "dengan x atau nama simbol."),
    "sop_import.two_actors": N_("dua pelaksana ditandai (kolom %(columns)s: %(actors)s); satu kegiatan hanya punya "
                                "satu pelaksana."),
    "sop_import.symbol_unknown": N_("simbol \u201c%(value)s\u201d tidak dikenal; pakai x, keputusan, mulai atau "
                                    "selesai."),
    "sop_import.start_not_first": N_("\u201cmulai\u201d hanya untuk kegiatan pertama."),
    "sop_import.decision_outcomes": N_("keputusan tanpa hasil: tulis di Keterangan, mis. \u201cYa: 5; Tidak: "
                                       "kembali ke 3\u201d (paling sedikit dua)."),
    "sop_import.outcome_unreadable": N_("hasil keputusan \u201c%(value)s\u201d tidak terbaca; tulis \u201clabel: "
                                        "nomor langkah\u201d, \u201clabel: selesai\u201d atau \u201clabel: "
                                        "berhenti (alasan)\u201d."),
    "sop_import.unreachable": N_("tidak ada langkah yang menuju langkah %(number)s (langkah sebelumnya selesai atau "
                                 "memutuskan ke tempat lain); tambahkan hasil keputusan yang menuju ke sini."),
    "sop_import.outcome_missing_row": N_("hasil \u201c%(label)s\u201d menuju langkah %(number)s, yang tidak ada."),
    "sop_import.waktu_unreadable": N_("Waktu \u201c%(value)s\u201d tidak terbaca, jadi langkah ini belum diberi "
                                      "batas waktu; tulis mis. H, H+1, 3 hari, 2 hari kerja setelah langkah 1."),
    "sop_import.waktu_step_missing": N_("Waktu dihitung dari langkah %(number)s, yang tidak ada sebelum langkah ini."),
    "sop_import.waktu_no_reference": N_("Waktu \u201c%(value)s\u201d tidak menyebut sejak kapan dihitung, jadi "
                                        "langkah pertama ini belum diberi batas waktu; tulis \u201csetelah ...\u201d."),
    "sop_import.waktu_previous": N_("Waktu tidak menyebut sejak kapan; dihitung dari selesainya langkah %(number)s "
                                    "(tulis \u201csetelah ...\u201d bila maksudnya lain)."),
    "sop_import.waktu_case_date": N_("Waktu dihitung \u201csetelah %(words)s\u201d: menjadi isian tanggal "
                                     "\u201c%(label)s\u201d saat kasus dibuka (tulis \u201csetelah langkah "
                                     "n\u201d bila maksudnya selesainya suatu langkah)."),
}


# ---------------------------------------------------------------------------------------------- catalogues
@cache
def catalogue(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (none for the source language: its msgids are its text). Read from the
    .mo the build compiles, else straight from the committed .po (a checkout without a build still speaks English
    on the command line)."""
    if locale == SOURCE_LOCALE or locale not in LOCALES:
        return NullTranslations()
    folder = TRANSLATIONS_DIR / locale / "LC_MESSAGES"
    mo, po = folder / "messages.mo", folder / "messages.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with open(mo, "rb") as fh:
            return Translations(fh)
    if not po.exists():
        return NullTranslations()
    with open(po, "rb") as fh:
        buffer = io.BytesIO()
        write_mo(buffer, read_po(fh, locale=locale))
    buffer.seek(0)
    return Translations(buffer)


def locale_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The command line's language: ``ALUR_LANG``, else ``LANG`` (``en_US.UTF-8`` → ``en``); Bahasa Indonesia when
    neither names a language the application speaks (``C``, ``POSIX``, unset)."""
    environ = os.environ if environ is None else environ
    for name in ("ALUR_LANG", "LANG"):
        value = (environ.get(name) or "").strip()
        language = value.replace("-", "_").split(".")[0].split("@")[0].split("_")[0].lower()
        if language in LOCALES:
            return language
    return SOURCE_LOCALE


# ---------------------------------------------------------------------------------------------- rendering
class _Params(dict):
    """Formatted parameters; a placeholder without a value shows as nothing rather than failing the message."""

    def __missing__(self, key: str) -> str:
        return ""


def is_message(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("code"), str) and set(value) <= {"code", "params"}


def message(code: str, **params: Any) -> dict[str, Any]:
    """A message as a parameter of another (JSON-friendly: it can be stored)."""
    return {"code": code, "params": params} if params else {"code": code}


def _value(key: str, value: Any, locale: str, translations: NullTranslations) -> str:
    from . import timefmt

    if value is None:
        return ""
    if is_message(value):
        return render_message(value, locale, translations)
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(key, v, locale, translations) for v in value)
    if key.endswith("_at") and isinstance(value, (str, datetime)):
        try:
            return timefmt.format_datetime(value, locale)
        except ValueError:
            return str(value)
    if key.endswith("_bytes") and isinstance(value, int):
        return timefmt.format_size(value, locale)
    if key.endswith("_seconds") and isinstance(value, (int, float)):
        return timefmt.format_span(value, locale, translations)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format_decimal(value, locale=locale)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render(code: str, params: Mapping[str, Any] | None = None, locale: str = SOURCE_LOCALE,
           translations: NullTranslations | None = None) -> str:
    """The message ``code`` with ``params``, in ``locale`` (``translations``: the catalogue to use, by default the
    one of ``locale``). ``KeyError`` for a code the catalogue does not have."""
    msgid = MESSAGES[code]
    translations = catalogue(locale) if translations is None else translations
    values = _Params({k: _value(k, v, locale, translations) for k, v in (params or {}).items()})
    try:
        return translations.gettext(msgid) % values
    except (ValueError, TypeError):  # a translation that does not fit its msgid: tests/test_i18n.py catches it
        return msgid % values


def render_message(value: Mapping[str, Any], locale: str = SOURCE_LOCALE,
                   translations: NullTranslations | None = None) -> str:
    """A stored message (``{"code", "params"}``); one whose code the catalogue no longer has reads as the generic
    "cannot be processed" rather than failing the page."""
    code = value.get("code")
    if code not in MESSAGES:
        return render("engine_error", {}, locale, translations)
    return render(code, value.get("params") or {}, locale, translations)


def known(code: str | None) -> bool:
    return code in MESSAGES


def error_code(exc: Exception) -> str:
    """The code an error's text comes from: its own when the catalogue has it, else its class's (the nearest class
    in the hierarchy whose code the catalogue has)."""
    code = getattr(exc, "message_key", None) or getattr(exc, "code", None)
    if code in MESSAGES:
        return code
    for cls in type(exc).__mro__:
        generic = cls.__dict__.get("code")
        if isinstance(generic, str) and generic in MESSAGES:
            return generic
    return "engine_error"


def of_error(exc: Exception) -> dict[str, Any]:
    """An error as a part of another message (``{"code", "params"}``)."""
    key = getattr(exc, "message_key", None) or getattr(exc, "code", None)
    if key in MESSAGES:
        return message(key, **{k: v for k, v in (getattr(exc, "params", None) or {}).items() if k != "label"})
    return message(error_code(exc))


def error_text(exc: Exception, locale: str = SOURCE_LOCALE, translations: NullTranslations | None = None) -> str:
    """An error in ``locale``: its code's message with its params (a refusal of an input rule with the field's
    label in front), else its class's text."""
    params = dict(getattr(exc, "params", None) or {})
    key = getattr(exc, "message_key", None) or getattr(exc, "code", None)
    if key in MESSAGES:
        label = params.pop("label", None) if key.startswith("field.") else None
        if is_message(label):
            label = render_message(label, locale, translations)
        text = render(key, params, locale, translations)
        return f"{label}: {text}" if label else text
    return render(error_code(exc), {}, locale, translations)


def field_text(err: Any, locale: str = SOURCE_LOCALE, translations: NullTranslations | None = None,
               label: str | None = None) -> str:
    """A form error (:class:`process.forms.FieldError`) in ``locale``: the field's label, then its rule's sentence.
    ``label`` (already in the reader's language) overrides the error's own."""
    translations = catalogue(locale) if translations is None else translations
    key = err.key or f"field.{err.code}"
    if label is None:
        label = err.label
    if is_message(label):
        label = render_message(label, locale, translations)
    text = render(key if key in MESSAGES else "field.invalid", err.params, locale, translations)
    return f"{label}: {text}" if label else text
