"""Screenshots of the console for a visual check (not a test): creates a demo store in
/tmp/shotstore and writes PNGs to /tmp/shots.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" python tests/gui/make_screenshots.py
"""
import sys, shutil
from pathlib import Path
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
app.setStyle("Fusion")
from views import style, task
app.setStyleSheet(style.stylesheet())
from core.demo import create_demo
from core.security import Hasher, HashParams
from app.container import build_services
H = Hasher(HashParams(time_cost=1, memory_cost=1024, parallelism=1))
shutil.rmtree("/tmp/shotstore", ignore_errors=True); Path("/tmp/shotstore").mkdir()
store, accts = create_demo('sqlite:////tmp/shotstore/charter-demo.db', H)
svc = build_services(store, H)
pw = {a.username: a.password for a in accts}
OUT = Path("/tmp/shots")
OUT.mkdir(exist_ok=True)
qs = QSettings("/tmp/shotstore/q.ini", QSettings.Format.IniFormat)

from PySide6.QtCore import QEventLoop
def wait(ms):
    # A real event loop: PySide's QTest.qWait keeps the GIL, so worker threads would stall.
    loop = QEventLoop(); QTimer.singleShot(ms, loop.quit); loop.exec()

def settle(ms=300):
    wait(ms)
    while task.running():
        wait(50)
    wait(100)

def shot(w, name):
    settle()
    w.grab().save(str(OUT / f"{name}.png"))
    print("saved", name)

from views.login_dialog import LoginDialog
d = LoginDialog(svc); d.show(); d.username.setText("ada"); d.password.setText("x" * 12)
shot(d, "01_login")
d.password.setText("wrong-password"); d.submit(); settle(600)
shot(d, "02_login_error")
d.close()
from core.permissions import Role
admin = svc.auth.sign_in("ada", pw["ada"])
issued = svc.users.add(admin, "olga", "Olga Onboarding", [Role.MANAGER])
d = LoginDialog(svc); d.show(); d.username.setText("olga"); d.password.setText(issued.code); d.submit(); settle(600)
d.new_password.setText("abc"); d.repeat_password.setText("abc"); d.submit(); settle(600)
shot(d, "02b_choose_password")
d.close()

from views.main_window import MainWindow
def window(user):
    p = svc.auth.sign_in(user, pw[user])
    w = MainWindow(svc, p, qsettings=qs, idle_interval_ms=3_600_000); w.resize(1300, 800); w.show()
    return w

w = window("ada")
shot(w, "03_admin_home")
w.show_screen(1); shot(w, "04_users")
users = w.screens[1]
users.add_user(); dlg = users.dialog
dlg.username.setText("nina"); dlg.display_name.setText("Nina Newcomer"); dlg.email.setText("nina@bank.example")
dlg.role_checks.checks[list(dlg.role_checks.checks)[1]].setChecked(True)
shot(dlg, "05_add_user_dialog")
dlg.submitted.emit(); settle(600)
shot(users.dialog, "06_code_dialog")
users.dialog.accept()
shot(w, "07_users_after_add")
w.show_screen(2); audit = w.screens[2]
audit.verify(); settle(800)
audit.table.selectRow(0)
shot(w, "08_audit_verified")
w.show_screen(4); shot(w, "09_settings")
w.screens[4].table.selectRow(1); d2 = w.screens[4].edit("auth.idle_lock_minutes"); shot(d2, "10_setting_dialog"); d2.reject()
w.lock(); shot(w, "11_locked")
w._end_session(); w.close()
# tamper
import sqlite3
c = sqlite3.connect("/tmp/shotstore/charter-demo.db")
c.execute("DROP TRIGGER audit_event_no_update"); c.execute("UPDATE audit_event SET reason='tampered' WHERE seq=5"); c.commit(); c.close()
w = window("cora"); w.show_screen(1); a = w.screens[1]; a.verify(); settle(800)
shot(w, "12_compliance_audit_broken")
w._end_session(); w.close()
w = window("eve"); shot(w, "13_executive_home"); w._end_session(); w.close()
w = window("dana"); shot(w, "14_scientist_home"); w._end_session(); w.close()
