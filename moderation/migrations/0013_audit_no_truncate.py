"""The audit log refuses TRUNCATE too (PostgreSQL): no statement of the app can empty it, by accident or not.

A BEFORE TRUNCATE statement trigger raises unless the transaction says it means it:
`SET LOCAL moderation.allow_audit_truncate = 'on'`. Only Django's `flush` says so (`manage.py flush`, and the
test runner between transactional tests; see moderation/postgresql/base.py), and only a role allowed to
TRUNCATE the table can use it: the app's own role may not (`manage.py create_app_role`). SQLite, the embedded
development default, gets no trigger.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION moderation_auditevent_no_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('moderation.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'moderation_auditevent is append-only (TRUNCATE refused)'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Emptying the audit log is deliberate: SET LOCAL moderation.allow_audit_truncate = ''on''.';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS moderation_auditevent_no_truncate ON moderation_auditevent;
CREATE TRIGGER moderation_auditevent_no_truncate
    BEFORE TRUNCATE ON moderation_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION moderation_auditevent_no_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS moderation_auditevent_no_truncate ON moderation_auditevent;
DROP FUNCTION IF EXISTS moderation_auditevent_no_truncate();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0012_action_shortcut_key")]
    operations = [migrations.RunPython(forwards, backwards)]
