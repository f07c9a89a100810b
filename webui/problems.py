"""Problems with a diagram (and with moving a case to another version of it), in the user's language.

The engine and the process layer report a problem as ``(element id, code, params)`` (:class:`engine.errors.Problem`),
never as a sentence. This module is the one place that turns one into words: :data:`MESSAGES` maps each code to an
Indonesian msgid with ``%(name)s`` placeholders (English in messages.po), and :func:`problem_message` names the
element (its kind, name and id, as the owner sees it in the modeler) in front of it. ``tests/test_problems.py`` fails
when a code that the engine or the process layer can report has no message here, in either language.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.errors import Problem

#: BPMN element types as the owner knows them.
TYPE_LABELS = {
    "process": _l("Proses"),
    "userTask": _l("Tugas"),
    "scriptTask": _l("Tugas skrip"),
    "task": _l("Tugas tanpa jenis"),
    "serviceTask": _l("Tugas layanan"),
    "sendTask": _l("Tugas kirim"),
    "receiveTask": _l("Tugas terima"),
    "manualTask": _l("Tugas manual"),
    "businessRuleTask": _l("Tugas aturan bisnis"),
    "callActivity": _l("Call activity"),
    "subProcess": _l("Sub-proses"),
    "boundaryEvent": _l("Peristiwa batas"),
    "startEvent": _l("Peristiwa awal"),
    "endEvent": _l("Peristiwa akhir"),
    "intermediateThrowEvent": _l("Peristiwa antara"),
    "intermediateCatchEvent": _l("Peristiwa tunggu"),
    "exclusiveGateway": _l("Gateway eksklusif"),
    "parallelGateway": _l("Gateway paralel"),
    "inclusiveGateway": _l("Gateway inklusif"),
    "eventBasedGateway": _l("Gateway berbasis peristiwa"),
    "complexGateway": _l("Gateway kompleks"),
    "sequenceFlow": _l("Alur"),
    "lane": _l("Lajur"),
    "textAnnotation": _l("Anotasi"),
    "association": _l("Asosiasi"),
    "dataObjectReference": _l("Objek data"),
    "dataStoreReference": _l("Penyimpanan data"),
}

_SAFE_LANGUAGE = _l("Tulis dengan ekspresi aman mirip Python yang dijalankan Alur Medsos: nama data formulir, "
                    "perbandingan (==, !=, <, >), and/or/not, angka dan teks dalam tanda kutip, serta fungsi "
                    "terdaftar; misalnya keputusan_admin == \"diterima\".")

#: code → Indonesian msgid (the English is in messages.po). One table for every problem of every layer.
MESSAGES: dict[str, Any] = {
    # The file itself
    "xml.too_large": _l("Berkas berukuran %(size)s bita; batasnya %(limit)s bita. Kecilkan diagram (mis. hapus "
                        "gambar tersemat) lalu coba lagi."),
    "xml.unsafe": _l("DTD dan entitas XML tidak diterima (perlindungan terhadap \u201cbillion laughs\u201d dan "
                     "entitas eksternal). Ekspor ulang diagram dari modeler tanpa DOCTYPE."),
    "xml.not_well_formed": _l("Berkas bukan XML yang tersusun benar (baris %(line)s, kolom %(column)s). Ekspor "
                              "ulang dari modeler, atau perbaiki berkas di baris itu."),
    "xml.encoding": _l("Penyandian karakter \u201c%(encoding)s\u201d yang dinyatakan berkas tidak dapat dibaca. "
                       "Simpan ulang berkas sebagai UTF-8."),
    "xml.schema": _l("Elemen <%(tag)s> tidak sesuai skema BPMN 2.0 (baris %(line)s). Ekspor ulang dari modeler "
                     "atau perbaiki elemen ini."),
    "xml.schema_element": _l("Elemen <%(tag)s> tidak boleh berada di tempat ini menurut skema BPMN 2.0 (baris "
                             "%(line)s): urutan atau isinya salah. Ekspor ulang dari modeler, atau pindahkan/hapus "
                             "elemen itu."),
    "xml.schema_attribute_not_allowed": _l("Atribut \u201c%(attribute)s\u201d tidak dikenal skema BPMN 2.0 pada "
                                           "<%(tag)s> (baris %(line)s). Hapus atribut itu."),
    "xml.schema_attribute_missing": _l("Atribut wajib \u201c%(attribute)s\u201d tidak ada pada <%(tag)s> (baris "
                                       "%(line)s). Lengkapi di modeler."),
    "xml.schema_value": _l("Nilai \u201c%(value)s\u201d tidak sah untuk %(attribute)s pada <%(tag)s> (baris "
                           "%(line)s). Perbaiki nilainya di modeler."),
    "xml.schema_duplicate_id": _l("Id \u201c%(id)s\u201d dipakai lebih dari satu elemen (baris %(line)s). Setiap "
                                  "elemen perlu id sendiri; ganti id salah satunya."),
    # The process as a whole
    "process.count": _l("Diagram harus memuat tepat satu proses yang dapat dijalankan (isExecutable); ditemukan "
                        "%(count)s. Tandai satu proses sebagai dapat dijalankan."),
    "process.no_start_event": _l("Proses tidak memiliki peristiwa awal. Tambahkan satu peristiwa awal tanpa jenis."),
    "id.internal_name": _l("Id \u201c%(id)s\u201d dipakai mesin alur kerja untuk bagiannya sendiri, sehingga "
                           "tidak ada kasus yang dapat berjalan. Beri elemen ini id lain (mis. "
                           "\u201c%(id)s_1\u201d)."),
    # Structure
    "event.boundary_untyped": _l("Peristiwa batas tanpa jenis tidak dapat dijalankan. Jadikan timer (batas waktu) "
                                 "atau hapus peristiwa ini."),
    "gateway.flow_without_condition": _l("Alur keluar dari gateway \u201c%(gateway_name)s\u201d (%(gateway)s) ini "
                                         "tidak memiliki kondisi dan bukan alur bawaan. Beri kondisi, atau jadikan "
                                         "alur bawaan gateway itu."),
    "gateway.parallel_loop": _l("Gateway paralel ini menggabungkan cabang yang dijalankan lagi oleh sebuah "
                                "perulangan (%(branches)s): pada putaran kedua mesin akan melanjutkan sebelum semua "
                                "cabang putaran itu selesai. Gambarkan perulangan agar kembali ke titik setelah "
                                "percabangan paralel, atau pisahkan cabangnya menjadi langkah berurutan."),
    "gateway.inclusive_loop": _l("Gateway inklusif yang menggabungkan cabang tidak dapat berada dalam perulangan: "
                                 "pada putaran kedua mesin akan melanjutkan sebelum semua cabang yang diambil pada "
                                 "putaran itu selesai. Pindahkan percabangan dan penggabungan inklusif ke luar "
                                 "perulangan, atau gambarkan pilihan cabangnya dengan gateway eksklusif."),
    # Sub-processes
    "subprocess.start_count": _l("Sub-proses ini memiliki %(count)s peristiwa awal; sub-proses perlu tepat satu "
                                 "peristiwa awal tanpa jenis."),
    "subprocess.start_typed": _l("Peristiwa awal di dalam sub-proses harus tanpa jenis: sub-proses dimulai ketika "
                                 "alur mencapainya. Hapus jenis peristiwa ini (timer, sinyal, dan sebagainya)."),
    "subprocess.no_end_event": _l("Sub-proses ini tidak memiliki peristiwa akhir, jadi tidak pernah selesai. "
                                  "Tambahkan peristiwa akhir di dalamnya."),
    "subprocess.lane_conflict": _l("Elemen ini tercatat di lajur “%(lane)s”, tetapi berada di dalam "
                                   "sub-proses “%(subprocess)s” yang berada di lajur "
                                   "“%(subprocess_lane)s”; semua langkah sebuah sub-proses dikerjakan oleh "
                                   "lajur sub-proses itu. Samakan lajurnya, atau keluarkan elemen ini dari "
                                   "sub-proses."),
    "flow.multiple_outgoing": _l("Elemen ini memiliki %(count)s alur keluar. Percabangan perlu gateway: tambahkan "
                                 "gateway eksklusif (dengan kondisi) atau paralel setelah elemen ini."),
    "flow.dangling": _l("Alur ini menghubungkan elemen yang tidak ada (dari \u201c%(source)s\u201d ke "
                        "\u201c%(target)s\u201d). Hubungkan ulang atau hapus alur ini."),
    "flow.unreachable": _l("Tidak ada jalur dari peristiwa awal ke elemen ini, jadi elemen ini tidak akan pernah "
                           "dijalankan. Hubungkan dengan alur atau hapus."),
    "diagram.no_shape": _l("Elemen ini tidak memiliki bentuk di diagram, jadi tidak akan tergambar."),
    "diagram.task_without_name": _l("Tugas ini belum diberi nama; nama tampil di kotak tugas."),
    # Timers
    "timer.empty": _l("Timer belum memiliki nilai. Isi tanggal (mis. akhir_hari(tanggal_kegiatan, 1)) atau durasi "
                      "(mis. P1D)."),
    "timer.date_is_duration": _l("Timer berjenis tanggal (timeDate) berisi durasi \u201c%(value)s\u201d. Ubah "
                                 "jenisnya menjadi durasi (timeDuration), atau tulis tanggal, mis. "
                                 "akhir_hari(tanggal_kegiatan, 1)."),
    "timer.duration_is_date": _l("Timer berjenis durasi (timeDuration) berisi tanggal \u201c%(value)s\u201d. Ubah "
                                 "jenisnya menjadi tanggal (timeDate), atau tulis durasi ISO 8601, mis. P2D."),
    "timer.cron": _l("\u201c%(value)s\u201d adalah ekspresi cron, yang tidak dijalankan di sini. Tulis tanggal "
                     "ISO 8601 (mis. 2025-06-01T09:00:00+07:00), ekspresi tanggal, atau durasi (mis. P1D)."),
    "timer.cycle_value": _l("\u201c%(value)s\u201d adalah timer berulang, yang tidak dijalankan. Tulis satu "
                            "tanggal atau satu durasi."),
    "timer.runtime_failed": _l("Timer \u201c%(expression)s\u201d tidak dapat dihitung dengan data kasus ini; langkah "
                               "berjalan tanpa batas waktu ini. Pemilik proses perlu memperbaiki timer."),
    "timer.runtime_not_date": _l("Timer \u201c%(expression)s\u201d menghasilkan \u201c%(value)s\u201d, bukan "
                                 "tanggal; langkah berjalan tanpa batas waktu ini. Pemilik proses perlu memperbaiki "
                                 "timer."),
    "timer.runtime_not_duration": _l("Timer \u201c%(expression)s\u201d menghasilkan \u201c%(value)s\u201d, bukan "
                                     "durasi; langkah berjalan tanpa batas waktu ini. Pemilik proses perlu "
                                     "memperbaiki timer."),
    # Scripts and extensions
    "script.language": _l("Ditulis dalam bahasa \u201c%(language)s\u201d, yang tidak dijalankan di sini. "
                          "%(safe_language)s"),
    "script.empty": _l("Tugas skrip ini kosong. Tulis baris nama = ekspresi, atau hapus tugas ini."),
    "camunda.expression_attribute": _l("Ekspresi di camunda:%(tag)s (%(attribute)s) ditolak: properti ekstensi "
                                       "adalah data, bukan kode. Tulis nilai biasa."),
    "camunda.not_executed": _l("camunda:%(tag)s tidak dijalankan. Hapus dari diagram."),
    # Forms
    "form.field_id_missing": _l("Sebuah field formulir (%(label)s) belum memiliki ID. Isi ID dengan huruf kecil, "
                                "angka dan _, diawali huruf."),
    "form.field_id_invalid": _l("ID field formulir \u201c%(field)s\u201d tidak diizinkan: pakai huruf kecil, angka "
                                "dan _, diawali huruf."),
    "form.field_id_function": _l("ID field formulir \u201c%(field)s\u201d menutupi fungsi yang bernama sama. Pilih "
                                 "ID lain."),
    "form.field_id_duplicate": _l("ID field formulir \u201c%(field)s\u201d dipakai dua kali. Beri ID lain pada "
                                  "salah satunya."),
    "form.field_type_unknown": _l("Field \u201c%(field)s\u201d berjenis \u201c%(type)s\u201d, yang tidak dikenal. "
                                  "Jenis yang dikenal: %(types)s."),
    "form.constraint_unknown": _l("Field \u201c%(field)s\u201d (%(type)s) memakai batasan yang tidak dikenal: "
                                  "%(constraints)s. Batasan yang dikenal: %(known)s."),
    "form.enum_without_options": _l("Field pilihan \u201c%(field)s\u201d belum memiliki pilihan. Tambahkan "
                                    "nilai-nilainya."),
    "form.constraint_not_integer": _l("Batasan %(constraint)s pada field \u201c%(field)s\u201d bernilai "
                                      "\u201c%(value)s\u201d; isi bilangan bulat."),
    "form.constraint_not_date": _l("Batasan %(constraint)s pada field \u201c%(field)s\u201d bernilai "
                                   "\u201c%(value)s\u201d; isi tanggal ISO (mis. 2025-01-31)."),
    "form.accept_unknown": _l("Field berkas \u201c%(field)s\u201d menerima jenis yang tidak dikenal: %(kinds)s. "
                              "Jenis yang dikenal: %(known)s."),
    # The SOP's own rules
    "sop.task_not_in_lane": _l("Tugas ini tidak berada di lajur mana pun, jadi tidak ada yang dapat "
                               "mengerjakannya. Letakkan di sebuah lajur; lajur dikerjakan oleh grup yang bernama "
                               "sama dengan lajur itu atau yang disebut kodenya."),
    # Who works each lane (process/modeling.py: needs the database)
    "lane.no_group": _l("Tidak ada grup yang mengerjakan lajur \u201c%(lane)s\u201d, jadi tugasnya tidak akan "
                        "sampai ke siapa pun. Buat grup \u201c%(group)s\u201d bernama \u201c%(lane)s\u201d (lalu "
                        "administrator menambahkan anggotanya), atau pindahkan tugasnya ke lajur yang sudah "
                        "dikerjakan sebuah grup."),
    "lane.group_empty": _l("Grup yang mengerjakan lajur \u201c%(lane)s\u201d (%(groups)s) belum memiliki anggota "
                           "aktif, jadi tugasnya belum sampai ke siapa pun. Minta administrator menambahkan "
                           "anggotanya."),
    "sop.task_without_form": _l("Langkah ini tidak memiliki field formulir. Tambahkan formulirnya (panel properti, "
                                "bagian Field formulir)."),
    # The procedure's declarations (alur:, docs/extension-namespace.md)
    "decl.unknown": _l("Deklarasi \u201calur:%(declaration)s\u201d tidak dikenal di sini. Hapus atau perbaiki "
                       "lewat panel Aturan prosedur."),
    "decl.misplaced": _l("Deklarasi \u201calur:%(declaration)s\u201d hanya berlaku pada %(places)s; pindahkan ke "
                         "elemen yang tepat."),
    "decl.attribute_missing": _l("Aturan prosedur belum lengkap: %(attribute)s belum diisi."),
    "decl.number_invalid": _l("Nomor langkah \u201c%(value)s\u201d bukan bilangan bulat positif."),
    "decl.number_duplicate": _l("Nomor langkah %(number)s sudah dipakai oleh \u201c%(other)s\u201d; setiap langkah "
                                "perlu nomor sendiri."),
    "decl.deadline_invalid": _l("Batas waktu langkah harus \u201cwajib\u201d (required) atau \u201copsional\u201d "
                                "(optional), bukan \u201c%(value)s\u201d."),
    "decl.deadline_missing": _l("Langkah ini wajib memiliki batas waktu, tetapi belum ada peristiwa batas timer "
                                "padanya. Lekatkan timer (non-interrupting), atau jadikan batas waktunya opsional."),
    "decl.field_missing": _l("%(attribute)s menyebut field \u201c%(field)s\u201d, yang tidak ada pada formulir. "
                             "Pilih field yang ada, atau tambahkan field itu."),
    "decl.field_invalid": _l("%(attribute)s: \u201c%(field)s\u201d bukan ID field yang sah (huruf kecil, angka "
                             "dan garis bawah, diawali huruf)."),
    "decl.option_missing": _l("Field \u201c%(field)s\u201d tidak memiliki pilihan \u201c%(option)s\u201d yang "
                              "disebut aturan prosedur. Pilih salah satu pilihan field itu."),
    "decl.target_missing": _l("%(attribute)s menunjuk langkah \u201c%(target)s\u201d, yang tidak ada (lagi) di "
                              "diagram. Pilih langkah yang ada."),
    "decl.register_twice": _l("Nomor register sudah diberikan pada langkah \u201c%(other)s\u201d; hanya satu "
                              "langkah yang dapat memberi nomor register."),
    "decl.outcome_code_invalid": _l("Kode hasil akhir \u201c%(code)s\u201d tidak sah: pakai huruf kecil, angka dan "
                                    "garis bawah, diawali huruf."),
    "decl.record_kind": _l("Jenis catatan \u201c%(kind)s\u201d tidak dikenal; yang dikenal: %(kinds)s."),
    "decl.record_field_type": _l("Field \u201c%(field)s\u201d harus berjenis %(type)s untuk catatan ini."),
    "decl.register_format": _l("Format nomor register \u201c%(format)s\u201d tidak dapat dipakai: tulis teks dengan "
                               "{seq} (nomor urut, mis. {seq:03d}) dan {year} (nomor urut dimulai lagi setiap "
                               "tahun); boleh juga {month} dan {month_roman}."),
    "register.format_taken": _l("Format nomor register \u201c%(format)s\u201d dapat menulis nomor yang sama dengan "
                                "register prosedur \u201c%(procedure)s\u201d: dua kasus akan bernomor sama. Bedakan "
                                "formatnya, misalnya dengan kode prosedur di dalamnya."),
    "decl.flag_invalid": _l("%(attribute)s harus \u201ctrue\u201d atau \u201cfalse\u201d, bukan "
                            "\u201c%(value)s\u201d."),
    "decl.date_invalid": _l("Tanggal %(attribute)s \u201c%(value)s\u201d tidak sah: tulis tanggal yang ada dalam "
                            "bentuk TTTT-BB-HH, misalnya 2025-05-06."),
    "decl.nip_invalid": _l("NIP \u201c%(value)s\u201d tidak sah: NIP terdiri atas tepat 18 angka (spasi di antara "
                           "kelompok angka boleh), misalnya 19740310 199303 1 002."),
    "decl.sop_twice": _l("Identitas SOP (alur:sop) hanya boleh ada satu pada proses; hapus yang lain."),
    # Moving cases between versions
    "migration.case_not_running": _l("Kasus ini tidak sedang berjalan (status: %(status)s)."),
    "migration.other_process": _l("Versi %(version)s milik proses lain (%(process)s)."),
    "migration.same_version": _l("Kasus ini sudah berjalan pada versi %(version)s."),
    "migration.older_version": _l("Kasus ini berjalan pada versi %(current)s; kasus hanya dapat dipindahkan ke "
                                  "versi yang lebih baru, bukan ke versi %(version)s. Untuk kembali ke isi versi "
                                  "lama, terapkan ulang versi itu (menjadi versi terbaru), lalu pindahkan kasus ke "
                                  "sana."),
    "migration.task_removed": _l("Langkah yang sedang ditunggu kasus ini tidak ada di versi %(version)s. Kasus "
                                 "pindah hanya bila langkah ini dipetakan ke langkah pengganti di versi itu."),
    "migration.completed_unmapped": _l("Langkah yang sudah diselesaikan kasus ini tidak ada di versi %(version)s. "
                                       "Petakan riwayatnya ke langkah pengganti, atau pilih \u201ctidak "
                                       "dipetakan\u201d secara eksplisit (aturan versi itu tidak akan mengenali "
                                       "penyelesaian lama ini)."),
    "migration.mapping_unknown": _l("\u201c%(task)s\u201d bukan langkah yang ditunggu atau sudah diselesaikan kasus "
                                    "terpilih dan tidak ada di versi %(version)s; hanya langkah seperti itu yang "
                                    "dapat dipetakan."),
    "migration.mapping_target_missing": _l("Langkah pengganti \u201c%(target)s\u201d tidak ada di versi "
                                           "%(version)s."),
    "migration.mapping_target_kind": _l("Langkah pengganti \u201c%(target)s\u201d bukan tugas pengguna; sebuah "
                                        "langkah hanya dapat dipetakan ke tugas pengguna."),
    "migration.mapping_other_lane": _l("Langkah pengganti \u201c%(target)s\u201d ada di lajur %(target_lane)s, "
                                       "bukan di lajur %(lane)s seperti langkah yang diganti; pilih langkah di "
                                       "lajur yang sama."),
    "migration.mapping_boundary": _l("Langkah pengganti \u201c%(target)s\u201d berbeda dalam batas waktu "
                                     "(peristiwa batas) dengan langkah yang diganti; pilih langkah yang sama-sama "
                                     "mempunyai, atau sama-sama tidak mempunyai, batas waktu."),
    "migration.no_case": _l("Kasus #%(case)s tidak ada."),
    "migration.failed": _l("Kasus tidak dapat dilanjutkan pada versi %(version)s; kasus tetap pada versinya."),
    # The one answer for whatever else the workflow library refuses
    "parser.refused": _l("Mesin alur kerja tidak dapat membaca elemen ini. Periksa jenis dan sambungannya, atau "
                         "ganti dengan bentuk yang didukung (tugas pengguna, gateway eksklusif/paralel/inklusif, "
                         "sub-proses, timer)."),
    # Elements that are not executed
    "unsupported.complexGateway": _l("Gateway kompleks tidak dijalankan: aturan kapan ia melanjutkan tidak dapat "
                                     "dibaca dari diagram. Pakai gateway eksklusif, paralel atau inklusif."),
    "unsupported.eventBasedGateway": _l("Gateway berbasis peristiwa tidak dijalankan (tidak andal bersama timer). "
                                        "Pakai gateway eksklusif."),
    "unsupported.callActivity": _l("Call activity tidak dijalankan: call activity memanggil proses lain, "
                                   "sedangkan satu kasus di sini menjalankan satu proses. Gambarkan "
                                   "langkah-langkahnya di dalam sebuah sub-proses."),
    "unsupported.adHocSubProcess": _l("Sub-proses ad-hoc (langkah-langkah dalam urutan bebas) tidak dijalankan. "
                                      "Pakai sub-proses biasa, dengan gateway paralel untuk langkah yang boleh "
                                      "dikerjakan bersamaan."),
    "unsupported.eventSubProcess": _l("Sub-proses peristiwa (yang dimulai oleh sebuah peristiwa) tidak dijalankan. "
                                      "Pakai peristiwa batas (timer atau sinyal) pada tugas atau sub-proses."),
    "unsupported.transaction": _l("Transaksi tidak dijalankan (pembatalan dan kompensasinya tidak didukung). "
                                  "Pakai sub-proses biasa."),
    "unsupported.businessRuleTask": _l("Tugas aturan bisnis (DMN) tidak dijalankan. Pakai gateway eksklusif dengan "
                                       "kondisi."),
    "unsupported.serviceTask": _l("Tugas layanan tidak dijalankan (diagram tidak boleh memanggil sistem luar). "
                                  "Pakai tugas pengguna."),
    "unsupported.sendTask": _l("Tugas kirim tidak dijalankan: pesan dikirim ke proses lain, sedangkan satu kasus "
                               "di sini adalah satu proses. Pakai tugas pengguna; notifikasi dikirim oleh aplikasi."),
    "unsupported.receiveTask": _l("Tugas terima tidak dijalankan: tugas ini menunggu pesan dari proses lain, "
                                  "sedangkan satu kasus di sini adalah satu proses. Pakai tugas pengguna untuk "
                                  "mencatat kabar yang diterima."),
    "unsupported.messageEventDefinition": _l("Peristiwa pesan (message) tidak dijalankan: pesan dikirim antarproses "
                                             "(antar-pool), sedangkan satu kasus di sini adalah satu proses. Untuk "
                                             "memberi tahu bagian lain proses ini pakai sinyal; untuk menunggu kabar "
                                             "dari luar pakai tugas pengguna."),
    "unsupported.conditionalEventDefinition": _l("Peristiwa bersyarat tidak dijalankan: mesin tidak memeriksa ulang "
                                                 "syaratnya ketika data berubah. Pakai gateway eksklusif dengan "
                                                 "kondisi."),
    "unsupported.compensateEventDefinition": _l("Kompensasi (membatalkan langkah yang sudah selesai) tidak "
                                                "dijalankan. Gambarkan langkah pembatalannya sebagai tugas."),
    "unsupported.linkEventDefinition": _l("Peristiwa tautan (link) tidak dijalankan oleh mesin alur kerja. "
                                          "Hubungkan dengan alur biasa."),
    "unsupported.cancelEventDefinition": _l("Peristiwa pembatalan (cancel) hanya berlaku di dalam transaksi, "
                                            "yang tidak dijalankan. Pakai peristiwa akhir biasa atau terminate."),
    "unsupported.timeCycle": _l("Timer berulang (timeCycle) tidak dijalankan. Pakai tanggal (timeDate) atau durasi "
                                "(timeDuration)."),
    "unsupported.multiInstanceLoopCharacteristics": _l("Aktivitas multi-instance (satu langkah dikerjakan beberapa "
                                                       "kali sekaligus) tidak dijalankan. Hapus penanda "
                                                       "multi-instance; gambarkan cabangnya dengan gateway "
                                                       "paralel."),
    "unsupported.standardLoopCharacteristics": _l("Aktivitas berulang (loop) tidak dijalankan. Gambarkan "
                                                  "perulangannya dengan gateway."),
    # Expressions (engine/expressions.py)
    "expression.not_allowed": _l("Ekspresi \u201c%(text)s\u201d memakai bentuk yang tidak diizinkan. "
                                 "%(safe_language)s"),
    "expression.too_large": _l("Ekspresi \u201c%(text)s\u201d terlalu panjang, terlalu dalam atau menghasilkan "
                               "nilai terlalu besar. Sederhanakan."),
    "expression.unknown_name": _l("Ekspresi \u201c%(text)s\u201d memakai \u201c%(name)s\u201d, yang tidak ada di "
                                  "data kasus. Periksa ID field formulir."),
    "expression.name_invalid": _l("Ekspresi \u201c%(text)s\u201d memakai nama \u201c%(name)s\u201d, yang tidak "
                                  "diizinkan (hanya huruf, angka dan _, diawali huruf). %(safe_language)s"),
    "expression.name_builtin": _l("Ekspresi \u201c%(text)s\u201d memakai nama bawaan Python \u201c%(name)s\u201d, "
                                  "yang tidak diizinkan. %(safe_language)s"),
    "expression.repeat_count": _l("Ekspresi \u201c%(text)s\u201d mengulang teks atau daftar; jumlah ulangnya harus "
                                  "angka tetap."),
    "expression.constant_type": _l("Ekspresi \u201c%(text)s\u201d memuat nilai tetap berjenis yang tidak diizinkan. "
                                   "%(safe_language)s"),
    "expression.assignment": _l("Ekspresi \u201c%(text)s\u201d mengisi \u201c%(name)s\u201d; di sini hanya boleh "
                                "membaca. Pakai == untuk membandingkan."),
    "expression.attribute": _l("Ekspresi \u201c%(text)s\u201d memakai atribut \u201c.%(attribute)s\u201d, yang "
                               "tidak diizinkan. %(safe_language)s"),
    "expression.operator": _l("Ekspresi \u201c%(text)s\u201d memakai operator \u201c%(operator)s\u201d, yang tidak "
                              "diizinkan. Pakai and, or, not dan perbandingan."),
    "expression.percent_format": _l("Ekspresi \u201c%(text)s\u201d memformat teks dengan %%, yang tidak "
                                    "diizinkan. Gabungkan teks dengan +."),
    "expression.power_exponent": _l("Ekspresi \u201c%(text)s\u201d memakai ** dengan pangkat yang bukan angka "
                                    "tetap kecil."),
    "expression.is_none_only": _l("Ekspresi \u201c%(text)s\u201d memakai \u201cis\u201d; hanya \u201cis None\u201d "
                                  "dan \u201cis not None\u201d yang diizinkan. Pakai == untuk membandingkan."),
    "expression.slice": _l("Ekspresi \u201c%(text)s\u201d memotong teks atau daftar ([a:b]), yang tidak "
                           "diizinkan."),
    "expression.subscript": _l("Ekspresi \u201c%(text)s\u201d memakai indeks yang tidak diizinkan; pakai angka, "
                               "teks tetap atau nama data di dalam [ ]."),
    "expression.call_unknown": _l("Ekspresi \u201c%(text)s\u201d memanggil \u201c%(name)s\u201d, yang bukan fungsi "
                                  "terdaftar. Fungsi yang tersedia: %(functions)s."),
    "expression.call_form": _l("Ekspresi \u201c%(text)s\u201d memanggil sesuatu yang bukan fungsi terdaftar. "
                               "Fungsi yang tersedia: %(functions)s."),
    "expression.unpacking": _l("Ekspresi \u201c%(text)s\u201d membongkar daftar atau kamus (* atau **), yang "
                               "tidak diizinkan."),
    "expression.lambda": _l("Ekspresi \u201c%(text)s\u201d memakai lambda, yang tidak diizinkan."),
    "expression.comprehension": _l("Ekspresi \u201c%(text)s\u201d memakai comprehension (for di dalam [ ]), yang "
                                   "tidak diizinkan."),
    "expression.fstring": _l("Ekspresi \u201c%(text)s\u201d memakai f-string, yang tidak diizinkan. Gabungkan teks "
                             "dengan +."),
    "expression.set_literal": _l("Ekspresi \u201c%(text)s\u201d memakai himpunan { }, yang tidak diizinkan. Pakai "
                                 "daftar [ ]."),
    "expression.walrus": _l("Ekspresi \u201c%(text)s\u201d memakai :=, yang tidak diizinkan."),
    "expression.syntax": _l("Ekspresi \u201c%(text)s\u201d tidak dapat dibaca (baris %(line)s, kolom %(column)s). "
                            "%(safe_language)s"),
    "expression.foreign_language": _l("\u201c%(text)s\u201d ditulis dalam bahasa ekspresi ${\u2026} perangkat lain, "
                                      "yang tidak dijalankan di sini. Tulis tanpa ${ }, mis. \u201c%(inner)s\u201d "
                                      "atau %(inner)s == True. %(safe_language)s"),
    "expression.not_text": _l("Ekspresi ini bukan teks."),
    "expression.script_import": _l("Skrip memuat import (baris %(line)s), yang tidak diizinkan."),
    "expression.script_augmented": _l("Skrip memakai += atau sejenisnya (baris %(line)s). Tulis x = x + 1."),
    "expression.script_bare_expression": _l("Baris %(line)s skrip hanya berisi ekspresi, yang tidak berbuat apa "
                                            "pun. Setiap baris harus berbentuk nama = ekspresi."),
    "expression.script_statement": _l("Baris %(line)s skrip bukan baris nama = ekspresi (if, for, def dan "
                                      "sejenisnya tidak diizinkan). %(safe_language)s"),
    "expression.script_target": _l("Baris %(line)s skrip harus mengisi satu nama biasa di sebelah kiri "
                                   "(nama = ekspresi)."),
    "expression.script_assigns_function": _l("Skrip mengisi \u201c%(name)s\u201d, yang merupakan nama fungsi "
                                             "terdaftar. Pilih nama lain."),
    "expression.data_value": _l("Data kasus memuat nilai yang tidak dapat dipakai ekspresi."),
    "expression.result_value": _l("Ekspresi \u201c%(text)s\u201d menghasilkan nilai yang tidak diizinkan."),
    "expression.function_value": _l("Ekspresi \u201c%(text)s\u201d memakai fungsi \u201c%(name)s\u201d tanpa "
                                    "memanggilnya. Tulis %(name)s(...)."),
    "expression.service": _l("Panggilan layanan tidak dijalankan."),
}

#: The declarations' attributes as the properties panel names them (parameter ``attribute`` of the decl.* codes).
ATTRIBUTE_LABELS = {
    "register/field": _l("Field nomor register"),
    "stamp/date": _l("Field tanggal yang dicatat"),
    "stamp/time": _l("Field waktu yang dicatat"),
    "response/decision": _l("Field keputusan tanggapan tertulis"),
    "response/text": _l("Field teks tanggapan tertulis"),
    "return/field": _l("Field keputusan pengembalian"),
    "return/value": _l("Pilihan yang mengembalikan kasus"),
    "return/to": _l("Langkah tujuan pengembalian"),
    "return/response": _l("Field alasan pengembalian"),
    "reject/field": _l("Field keputusan penolakan"),
    "reject/value": _l("Pilihan yang menolak"),
    "separate/from": _l("Langkah yang pelaksananya tidak boleh mengerjakan langkah ini"),
    "require/when": _l("Field syarat kelengkapan"),
    "require/equals": _l("Nilai syarat kelengkapan"),
    "require/fields": _l("Field yang wajib menurut syarat kelengkapan"),
    "record/field": _l("Field catatan"),
    "procedure/title": _l("Field judul kasus"),
    "procedure/date": _l("Field tanggal kasus"),
    "procedure/place": _l("Field tempat"),
    "procedure/team": _l("Field tim"),
    "text/field": _l("Field teks yang dilacak"),
    "text/correction": _l("Field koreksi teks"),
    "teamScoped": _l("Hanya tim pembuat kasus"),
    "hearsOverdue": _l("Diberi tahu setiap langkah terlambat"),
}

#: Parameters given to every message (texts that several messages share).
_COMMON = {"safe_language": _SAFE_LANGUAGE}


def type_label(kind: str | None) -> str:
    return str(TYPE_LABELS.get(kind or "", kind or ""))


def _value(key: str, value: Any) -> str:
    if key == "rules":
        return "; ".join(str(MESSAGES.get(rule, rule)) for rule in (value or []))
    if key in ("type", "found"):
        return type_label(value)
    if key == "attribute" and value in ATTRIBUTE_LABELS:
        return str(ATTRIBUTE_LABELS[value])
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def element_label(problem: Problem) -> str:
    """The element as the owner sees it: kind, name and id (empty for a problem of the whole diagram)."""
    if not problem.element_id:
        return ""
    kind = type_label(problem.element_type)
    name = (problem.element_name or "").strip()
    if name:
        return f"{kind} \u201c{name}\u201d ({problem.element_id})".strip()
    return f"{kind} {problem.element_id}".strip()


def problem_text(problem: Problem) -> str:
    """The problem's message in the user's language, without the element's label."""
    msgid = MESSAGES.get(problem.code)
    params = {**{k: str(v) for k, v in _COMMON.items()},
              **{key: _value(key, value) for key, value in (problem.params or {}).items()}}
    params.setdefault("id", problem.element_id or "")
    if msgid is None:  # a code without a message fails tests/test_problems.py; never shown raw
        return _("Masalah yang tidak dikenal pada elemen ini.")
    try:
        return str(msgid) % params
    except (KeyError, ValueError, TypeError):
        return _("Masalah yang tidak dikenal pada elemen ini.")


def problem_message(problem: Problem) -> str:
    """The element's label, then the problem in the user's language."""
    label = element_label(problem)
    text = problem_text(problem)
    return f"{label}: {text}" if label else text


def problem_json(problem: Problem) -> dict:
    """What the modeler and the API show: the coded problem; its element's ``label`` and its ``text`` in the user's
    language, and both together as ``message``."""
    label, text = element_label(problem), problem_text(problem)
    return {**problem.as_dict(), "label": label, "text": text, "message": f"{label}: {text}" if label else text}


def problems_json(problems: Iterable[Problem]) -> list[dict]:
    return [problem_json(p) for p in problems]
