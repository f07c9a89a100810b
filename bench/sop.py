"""The element ids of the bundled SOP diagram (bpmn/alur_pengunggahan.bpmn) that the benchmarks' scripted cases drive.
The application itself never names them: it reads each step's rules from the diagram's declarations."""
TASK_SERAHKAN = "Task_Serahkan"
TASK_TERIMA = "Task_Terima"
TASK_KOREKSI = "Task_Koreksi"
TASK_PUTUSKAN = "Task_Putuskan"
TASK_UNGGAH = "Task_Unggah"
