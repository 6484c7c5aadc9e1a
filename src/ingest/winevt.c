/* Windows event log records as JSON, in the three shapes tools write:
 *
 *  - flat: System values and EventData values as top-level keys
 *    (`EventID`, `Channel`, `Image`, ...; evtxexport, hayabusa, Sigma's
 *    regression data);
 *  - nested: `Event.System.*` and `Event.EventData.*` as evtx dumpers write
 *    the XML (attributes under `#attributes` or `@`, text under `#text`,
 *    EventData as named keys or as a `Data` list of {@Name, #text});
 *  - Winlogbeat: `winlog.event_id`, `winlog.channel`, `winlog.event_data.*`.
 *
 * The nested shapes are also exposed under the flat names (fields added
 * with the same value slices, no copies), so a Sigma rule asking for
 * `Image` or `EventID` matches whichever shape the log came in. Everything
 * after that reads the flat names only.
 *
 * Logsource: product "windows"; service from the channel (the table of
 * Sigma's Windows services); category from the event id for the channels
 * that have generic Sigma categories (Sysmon, Security 4688, PowerShell). */
#include <string.h>

#include "event/json.h"
#include "ingest/decoders.h"

#define T(t) (1u << (t))
#define T_TEXT (T(KB_V_STR))
#define T_NUM (T(KB_V_INT) | T(KB_V_STR))
#define NAME_BUF 256

/* The raw names the decoder reads, resolved to ids once per names table
 * and thread (kb_event_fids). */
enum {
    N_USER,
    N_TARGETUSERNAME,
    N_TARGETDOMAINNAME,
    N_SUBJECTUSERNAME,
    N_SUBJECTDOMAINNAME,
    N_WINLOG_USER_NAME,
    N_WINLOG_USER_DOMAIN,
    N_COMPUTER,
    N_KEYWORDS,
    N_IMAGE,
    N_NEWPROCESSNAME,
    N_PARENTIMAGE,
    N_PARENTPROCESSNAME,
    N_NEWPROCESSID,
    N_PROCESSID,
    N_PROCESSNAME,
    N_SOURCEIMAGE,
    N_COMMANDLINE,
    N_PARENTCOMMANDLINE,
    N_SOURCEIP,
    N_IPADDRESS,
    N_SOURCEADDRESS,
    N_SOURCEPORT,
    N_IPPORT,
    N_DESTINATIONIP,
    N_DESTADDRESS,
    N_DESTINATIONPORT,
    N_DESTPORT,
    N_PROTOCOL,
    N_QUERYNAME,
    N_TARGETFILENAME,
    N_IMAGELOADED,
    N_HASHES,
    N_HASH,
    N_RULENAME,
    N_MESSAGE,
    N_EVENTID,
    N_TIMECREATED,
    N_TIMESTAMP,
    N_CHANNEL,
    N_PROVIDER_NAME,
    N_EVENTTYPE,
    N_COUNT
};

static const char *const names[N_COUNT] = {
    [N_USER] = "User",
    [N_TARGETUSERNAME] = "TargetUserName",
    [N_TARGETDOMAINNAME] = "TargetDomainName",
    [N_SUBJECTUSERNAME] = "SubjectUserName",
    [N_SUBJECTDOMAINNAME] = "SubjectDomainName",
    [N_WINLOG_USER_NAME] = "winlog.user.name",
    [N_WINLOG_USER_DOMAIN] = "winlog.user.domain",
    [N_COMPUTER] = "Computer",
    [N_KEYWORDS] = "Keywords",
    [N_IMAGE] = "Image",
    [N_NEWPROCESSNAME] = "NewProcessName",
    [N_PARENTIMAGE] = "ParentImage",
    [N_PARENTPROCESSNAME] = "ParentProcessName",
    [N_NEWPROCESSID] = "NewProcessId",
    [N_PROCESSID] = "ProcessId",
    [N_PROCESSNAME] = "ProcessName",
    [N_SOURCEIMAGE] = "SourceImage",
    [N_COMMANDLINE] = "CommandLine",
    [N_PARENTCOMMANDLINE] = "ParentCommandLine",
    [N_SOURCEIP] = "SourceIp",
    [N_IPADDRESS] = "IpAddress",
    [N_SOURCEADDRESS] = "SourceAddress",
    [N_SOURCEPORT] = "SourcePort",
    [N_IPPORT] = "IpPort",
    [N_DESTINATIONIP] = "DestinationIp",
    [N_DESTADDRESS] = "DestAddress",
    [N_DESTINATIONPORT] = "DestinationPort",
    [N_DESTPORT] = "DestPort",
    [N_PROTOCOL] = "Protocol",
    [N_QUERYNAME] = "QueryName",
    [N_TARGETFILENAME] = "TargetFilename",
    [N_IMAGELOADED] = "ImageLoaded",
    [N_HASHES] = "Hashes",
    [N_HASH] = "Hash",
    [N_RULENAME] = "RuleName",
    [N_MESSAGE] = "message",
    [N_EVENTID] = "EventID",
    [N_TIMECREATED] = "TimeCreated",
    [N_TIMESTAMP] = "@timestamp",
    [N_CHANNEL] = "Channel",
    [N_PROVIDER_NAME] = "Provider_Name",
    [N_EVENTTYPE] = "EventType",
};

static _Thread_local kb_fid ids[N_COUNT];
static _Thread_local uint64_t ids_uid;

/* Index of the first field called names[n] whose type is in `types`, or
 * -1. Elements of arrays count only with `elems` (a list where one value
 * is expected is a wrong type, not a choice of values). */
static int find_in(const kb_event *ev, int n, unsigned types, int elems)
{
    return kb_event_find_typed(ev, ids[n], types, elems);
}

static int find(const kb_event *ev, int n, unsigned types)
{
    return find_in(ev, n, types, 0);
}

/* Like find, but Windows' "nothing here" values ("-", "") do not count. */
static int find_value(const kb_event *ev, int n, unsigned types)
{
    int idx = find(ev, n, types);

    if (idx >= 0 &&
        (ev->fields[idx].len == 0 || kb_str_eqz(ev->fields[idx].val, ev->fields[idx].len, "-")))
        return -1;
    return idx;
}

static int map(kb_event *ev, int c, int n, unsigned types)
{
    int idx;

    if (ev->canon[c] != KB_CANON_NONE)
        return -1;
    idx = find_value(ev, n, types);
    if (idx >= 0)
        kb_event_alias(ev, c, idx);
    return idx;
}

/* ---- logsource tables -------------------------------------------------- */

/* Channel to Sigma service (pySigma's windows_logsource_mapping and the
 * Sigma taxonomy's Windows services). Compared case-insensitively. */
static const struct {
    const char *channel;
    const char *service;
} services[] = {
    {"Security", "security"},
    {"System", "system"},
    {"Application", "application"},
    {"Microsoft-Windows-Sysmon/Operational", "sysmon"},
    {"Microsoft-Windows-PowerShell/Operational", "powershell"},
    {"PowerShellCore/Operational", "powershell"},
    {"Windows PowerShell", "powershell-classic"},
    {"Microsoft-Windows-TaskScheduler/Operational", "taskscheduler"},
    {"Microsoft-Windows-WMI-Activity/Operational", "wmi"},
    {"DNS Server", "dns-server"},
    {"Microsoft-Windows-DNS-Server/Audit", "dns-server-audit"},
    {"Microsoft-Windows-DNSServer/Audit", "dns-server-audit"},
    {"Microsoft-Windows-DNS-Server/Analytical", "dns-server-analytic"},
    {"Microsoft-Windows-DriverFrameworks-UserMode/Operational", "driver-framework"},
    {"Microsoft-Windows-NTLM/Operational", "ntlm"},
    {"Microsoft-Windows-DHCP-Server/Operational", "dhcp"},
    {"MSExchange Management", "msexchange-management"},
    {"Microsoft-Windows-AppLocker/EXE and DLL", "applocker"},
    {"Microsoft-Windows-AppLocker/MSI and Script", "applocker"},
    {"Microsoft-Windows-AppLocker/Packaged app-Deployment", "applocker"},
    {"Microsoft-Windows-AppLocker/Packaged app-Execution", "applocker"},
    {"Microsoft-Windows-PrintService/Admin", "printservice-admin"},
    {"Microsoft-Windows-PrintService/Operational", "printservice-operational"},
    {"Microsoft-Windows-CodeIntegrity/Operational", "codeintegrity-operational"},
    {"Microsoft-Windows-SmbClient/Security", "smbclient-security"},
    {"Microsoft-Windows-SmbClient/Connectivity", "smbclient-connectivity"},
    {"Microsoft-Windows-SMBServer/Connectivity", "smbserver-connectivity"},
    {"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall", "firewall-as"},
    {"Microsoft-Windows-Bits-Client/Operational", "bits-client"},
    {"Microsoft-Windows-Windows Defender/Operational", "windefend"},
    {"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
     "terminalservices-localsessionmanager"},
    {"Microsoft-ServiceBus-Client", "microsoft-servicebus-client"},
    {"Microsoft-Windows-LDAP-Client/Debug", "ldap"},
    {"Microsoft-Windows-Security-Mitigations/Kernel Mode", "security-mitigations"},
    {"Microsoft-Windows-Security-Mitigations/User Mode", "security-mitigations"},
    {"Microsoft-Windows-Diagnosis-Scripted/Operational", "diagnosis-scripted"},
    {"Microsoft-Windows-Shell-Core/Operational", "shell-core"},
    {"OpenSSH/Operational", "openssh"},
    {"Microsoft-Windows-BitLocker/BitLocker Management", "bitlocker"},
    {"Microsoft-Windows-VHDMP-Operational", "vhdmp"},
    {"Microsoft-Windows-VHDMP/Operational", "vhdmp"},
    {"Microsoft-Windows-AppXDeploymentServer/Operational", "appxdeployment-server"},
    {"Microsoft-Windows-AppxPackaging/Operational", "appxpackaging-om"},
    {"Microsoft-Windows-LSA/Operational", "lsa-server"},
    {"Microsoft-Windows-DNS Client Events/Operational", "dns-client"},
    {"Microsoft-Windows-AppModel-Runtime/Admin", "appmodel-runtime"},
    {"Microsoft-Windows-CAPI2/Operational", "capi2"},
    {"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
     "certificateservicesclient-lifecycle-system"},
    {"Microsoft-IIS-Configuration/Operational", "iis-configuration"},
};

static const char *service_of(const char *ch, size_t len)
{
    /* A log holds runs of one channel: try the last match first. */
    static _Thread_local size_t last;

    if (kb_str_ieqz(ch, len, services[last].channel))
        return services[last].service;
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        if (kb_str_ieqz(ch, len, services[i].channel)) {
            last = i;
            return services[i].service;
        }
    }
    return NULL;
}

/* Per (service, event id): Sigma category, ECS event.category, and
 * event.action. Sysmon ids follow pySigma's sysmon pipeline. A
 * kb_logsource has one category, so Sysmon 12/13/14 get registry_add (or
 * registry_delete by EventType) / registry_set / registry_rename: the Sigma
 * engine treats registry_event as the union of the three. */
typedef struct win_kind {
    const char *service;
    int eid;
    const char *sigma;
    const char *ecs;
    const char *action;
} win_kind;

static const win_kind kinds[] = {
    {"sysmon", 1, "process_creation", "process", "process-created"},
    {"sysmon", 2, "file_change", "file", "file-creation-time-changed"},
    {"sysmon", 3, "network_connection", "network", "network-connection"},
    {"sysmon", 4, "sysmon_status", "configuration", "sysmon-state-changed"},
    {"sysmon", 5, "process_termination", "process", "process-terminated"},
    {"sysmon", 6, "driver_load", "driver", "driver-loaded"},
    {"sysmon", 7, "image_load", "library", "image-loaded"},
    {"sysmon", 8, "create_remote_thread", "process", "remote-thread-created"},
    {"sysmon", 9, "raw_access_thread", "file", "raw-access-read"},
    {"sysmon", 10, "process_access", "process", "process-accessed"},
    {"sysmon", 11, "file_event", "file", "file-created"},
    {"sysmon", 12, "registry_add", "registry", "registry-object-added-or-deleted"},
    {"sysmon", 13, "registry_set", "registry", "registry-value-set"},
    {"sysmon", 14, "registry_rename", "registry", "registry-object-renamed"},
    {"sysmon", 15, "create_stream_hash", "file", "file-stream-created"},
    {"sysmon", 16, "sysmon_status", "configuration", "sysmon-config-changed"},
    {"sysmon", 17, "pipe_created", "file", "pipe-created"},
    {"sysmon", 18, "pipe_created", "file", "pipe-connected"},
    {"sysmon", 19, "wmi_event", "configuration", "wmi-filter-registered"},
    {"sysmon", 20, "wmi_event", "configuration", "wmi-consumer-registered"},
    {"sysmon", 21, "wmi_event", "configuration", "wmi-consumer-bound"},
    {"sysmon", 22, "dns_query", "network", "dns-query"},
    {"sysmon", 23, "file_delete", "file", "file-deleted"},
    {"sysmon", 24, "clipboard_capture", NULL, "clipboard-changed"},
    {"sysmon", 25, "process_tampering", "process", "process-tampering"},
    {"sysmon", 26, "file_delete_detected", "file", "file-delete-detected"},
    {"sysmon", 27, "file_block_executable", "file", "file-block-executable"},
    {"sysmon", 28, "file_block_shredding", "file", "file-block-shredding"},
    {"sysmon", 29, "file_executable_detected", "file", "file-executable-detected"},
    {"sysmon", 255, "sysmon_error", NULL, "sysmon-error"},
    {"security", 1102, NULL, "iam", "audit-log-cleared"},
    {"security", 4624, NULL, "authentication", "logged-in"},
    {"security", 4625, NULL, "authentication", "logon-failed"},
    {"security", 4634, NULL, "authentication", "logged-out"},
    {"security", 4647, NULL, "authentication", "logged-out"},
    {"security", 4648, NULL, "authentication", "logged-in-explicit"},
    {"security", 4672, NULL, "iam", "special-privileges-assigned"},
    {"security", 4688, "process_creation", "process", "process-created"},
    {"security", 4689, NULL, "process", "process-terminated"},
    {"security", 4697, NULL, "configuration", "service-installed"},
    {"security", 4698, NULL, "configuration", "scheduled-task-created"},
    {"security", 4699, NULL, "configuration", "scheduled-task-deleted"},
    {"security", 4702, NULL, "configuration", "scheduled-task-updated"},
    {"security", 4720, NULL, "iam", "user-account-created"},
    {"security", 4722, NULL, "iam", "user-account-enabled"},
    {"security", 4723, NULL, "iam", "password-change-attempted"},
    {"security", 4724, NULL, "iam", "password-reset-attempted"},
    {"security", 4725, NULL, "iam", "user-account-disabled"},
    {"security", 4726, NULL, "iam", "user-account-deleted"},
    {"security", 4728, NULL, "iam", "added-member-to-group"},
    {"security", 4732, NULL, "iam", "added-member-to-group"},
    {"security", 4756, NULL, "iam", "added-member-to-group"},
    {"security", 4729, NULL, "iam", "removed-member-from-group"},
    {"security", 4733, NULL, "iam", "removed-member-from-group"},
    {"security", 4757, NULL, "iam", "removed-member-from-group"},
    {"security", 4738, NULL, "iam", "user-account-changed"},
    {"security", 4740, NULL, "iam", "user-account-locked-out"},
    {"security", 4768, NULL, "authentication", "kerberos-authentication-ticket-requested"},
    {"security", 4769, NULL, "authentication", "kerberos-service-ticket-requested"},
    {"security", 4771, NULL, "authentication", "kerberos-preauth-failed"},
    {"security", 4776, NULL, "authentication", "credential-validated"},
    {"security", 4778, NULL, "authentication", "session-reconnected"},
    {"security", 4779, NULL, "authentication", "session-disconnected"},
    {"security", 5140, NULL, "file", "network-share-object-accessed"},
    {"security", 5145, NULL, "file", "network-share-object-checked"},
    {"security", 5156, NULL, "network", "connection-allowed"},
    {"security", 5157, NULL, "network", "connection-blocked"},
    {"system", 104, NULL, "iam", "log-cleared"},
    {"system", 7036, NULL, "configuration", "service-state-changed"},
    {"system", 7040, NULL, "configuration", "service-start-type-changed"},
    {"system", 7045, NULL, "configuration", "service-installed"},
    {"powershell", 4103, "ps_module", "process", "module-logged"},
    {"powershell", 4104, "ps_script", "process", "script-block-logged"},
    {"powershell-classic", 400, "ps_classic_start", "process", "engine-started"},
    {"powershell-classic", 600, "ps_classic_provider_start", "process", "provider-started"},
    {"powershell-classic", 800, "ps_classic_script", "process", "pipeline-executed"},
};

static const win_kind *kind_of(const char *service, int64_t eid)
{
    if (!service || eid < 0)
        return NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].eid == eid && strcmp(kinds[i].service, service) == 0)
            return &kinds[i];
    return NULL;
}

/* ---- exposing nested shapes under the flat names ----------------------- */

/* System values, after normalisation (see normalise), to flat names. */
static const struct {
    const char *path;
    const char *flat;
} system_names[] = {
    {"EventID", "EventID"},
    {"EventID.Qualifiers", "Qualifiers"},
    {"Provider.Name", "Provider_Name"},
    {"Provider.Guid", "Provider_Guid"},
    {"Provider.EventSourceName", "EventSourceName"},
    {"Channel", "Channel"},
    {"Computer", "Computer"},
    {"Level", "Level"},
    {"Task", "Task"},
    {"Opcode", "Opcode"},
    {"Keywords", "Keywords"},
    {"Version", "Version"},
    {"EventRecordID", "EventRecordID"},
    {"TimeCreated", "TimeCreated"},
    {"TimeCreated.SystemTime", "TimeCreated"},
    {"Execution.ProcessID", "Execution_ProcessID"},
    {"Execution.ThreadID", "Execution_ThreadID"},
    {"Security.UserID", "Security_UserID"},
    {"Correlation.ActivityID", "ActivityID"},
    {"Correlation.RelatedActivityID", "RelatedActivityID"},
};

/* Winlogbeat's winlog.* names (after "winlog.") to flat names. */
static const struct {
    const char *path;
    const char *flat;
} winlog_names[] = {
    {"event_id", "EventID"},
    {"channel", "Channel"},
    {"provider_name", "Provider_Name"},
    {"provider_guid", "Provider_Guid"},
    {"computer_name", "Computer"},
    {"record_id", "EventRecordID"},
    {"task", "Task"},
    {"opcode", "Opcode"},
    {"version", "Version"},
    {"keywords", "Keywords"},
    {"activity_id", "ActivityID"},
    {"process.pid", "Execution_ProcessID"},
    {"process.thread.id", "Execution_ThreadID"},
    {"user.identifier", "Security_UserID"},
};

/* Writes name with the XML-to-JSON decorations removed into out:
 * "#attributes." segments dropped, a leading '@' dropped from each
 * component, a final ".#text" dropped. Returns the length, or 0 if the
 * result does not fit or still holds a '#'. */
static size_t normalise(const char *s, size_t len, char *out, size_t cap)
{
    size_t i = 0, o = 0;

    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '.')
            j++;
        /* component s[i..j) */
        if (kb_str_eqz(s + i, j - i, "#attributes") || kb_str_eqz(s + i, j - i, "#text")) {
            /* dropped */
        } else {
            const char *c = s + i;
            size_t cl = j - i;
            if (cl && c[0] == '@')
                c++, cl--;
            if (!cl || memchr(c, '#', cl) || o + cl + 1 >= cap)
                return 0;
            if (o)
                out[o++] = '.';
            memcpy(out + o, c, cl);
            o += cl;
        }
        i = j + 1;
    }
    return o;
}

/* Adds a copy of field idx (same value slice, type, flags) under the
 * flat name `id`; EventID becomes an integer when its text is one. */
static int expose_id(kb_event *ev, uint32_t idx, kb_fid id)
{
    kb_field f = ev->fields[idx];
    int64_t v;
    int rc;

    if (f.type == KB_V_STR && id == ids[N_EVENTID] && kb_parse_i64(f.val, f.len, &v) == KB_OK)
        f.type = KB_V_INT;
    rc = kb_event_add(ev, id, (kb_vtype)f.type, f.val, f.len);
    if (rc < 0)
        return rc;
    ev->fields[rc].flags = (uint8_t)(f.flags | KB_FF_DERIVED);
    ev->fields[rc].elem = f.elem;
    return KB_OK;
}

/* expose_id by name. */
static int expose(kb_event *ev, uint32_t idx, const char *flat, size_t flen)
{
    return expose_id(ev, idx, kb_names_intern(ev->names, flat, flen));
}

/* EventData given as a list of {"@Name": N, "#text": V}: adds V under N.
 * The name and the text of one element are neighbours with the same elem
 * index; the value may be missing (an empty Data element). */
static int expose_named_data(kb_event *ev, uint32_t idx, uint32_t n0, kb_fid text_id)
{
    const kb_field *nm = &ev->fields[idx];
    char name[NAME_BUF];

    if (nm->type != KB_V_STR || !nm->len || nm->len >= sizeof name)
        return KB_OK;
    memcpy(name, nm->val, nm->len);
    for (uint32_t j = idx + 1; j < n0 && j < idx + 8; j++) {
        const kb_field *v = &ev->fields[j];
        if (v->elem != nm->elem)
            break;
        if (v->name == text_id) {
            /* One named value, no longer a list element. */
            int rc = expose(ev, j, name, nm->len);
            if (rc == KB_OK) {
                ev->fields[ev->nfields - 1].flags &= (uint8_t)~KB_FF_ELEM;
                ev->fields[ev->nfields - 1].elem = 0;
            }
            return rc;
        }
    }
    return KB_OK;
}

/* One pass over the fields the JSON gave, adding the flat names. */
static int expose_nested(kb_event *ev)
{
    uint32_t n0 = ev->nfields;
    kb_fid text_id = KB_FID_NONE;
    char norm[NAME_BUF];
    int rc = KB_OK;

    for (uint32_t i = 0; i < n0 && rc == KB_OK; i++) {
        size_t fl, nl, ml;
        const char *full = kb_names_str(ev->names, ev->fields[i].name, &fl);
        const char *n = full;

        if (!n)
            continue;
        nl = fl;
        if (kb_str_has_prefix(n, nl, "winlog.")) {
            n += 7, nl -= 7;
            if (kb_str_has_prefix(n, nl, "event_data.") || kb_str_has_prefix(n, nl, "user_data.")) {
                const char *b = (const char *)memchr(n, '.', nl) + 1;
                size_t bl = nl - (size_t)(b - n);
                if (bl && !memchr(b, '.', bl))
                    rc = expose(ev, i, b, bl);
                continue;
            }
            for (size_t k = 0; k < sizeof winlog_names / sizeof winlog_names[0]; k++)
                if (kb_str_eqz(n, nl, winlog_names[k].path))
                    rc = expose(ev, i, winlog_names[k].flat, strlen(winlog_names[k].flat));
            continue;
        }
        if (kb_str_has_prefix(n, nl, "Event."))
            n += 6, nl -= 6;
        if (kb_str_has_prefix(n, nl, "System.")) {
            ml = normalise(n + 7, nl - 7, norm, sizeof norm);
            for (size_t k = 0; ml && k < sizeof system_names / sizeof system_names[0]; k++)
                if (kb_str_eqz(norm, ml, system_names[k].path))
                    rc = expose(ev, i, system_names[k].flat, strlen(system_names[k].flat));
        } else if (kb_str_has_prefix(n, nl, "EventData.")) {
            ml = normalise(n + 10, nl - 10, norm, sizeof norm);
            if (!ml)
                continue;
            if (kb_str_eqz(norm, ml, "Data.Name")) {
                if (text_id == KB_FID_NONE) {
                    /* The element's text is "<prefix>EventData.Data.#text". */
                    char tname[NAME_BUF];
                    size_t pl = (size_t)(n - full);
                    if (pl + 20 >= sizeof tname)
                        continue;
                    memcpy(tname, full, pl);
                    memcpy(tname + pl, "EventData.Data.#text", 20);
                    text_id = kb_names_lookup(ev->names, tname, pl + 20);
                    if (text_id == KB_FID_NONE)
                        continue;
                }
                rc = expose_named_data(ev, i, n0, text_id);
            } else if (!memchr(norm, '.', ml)) {
                rc = expose(ev, i, norm, ml);
            }
        } else if (kb_str_has_prefix(n, nl, "UserData.")) {
            /* UserData.<Container>.<Name>: the name alone. */
            ml = normalise(n + 9, nl - 9, norm, sizeof norm);
            const char *dot = ml ? memchr(norm, '.', ml) : NULL;
            if (dot && !memchr(dot + 1, '.', ml - (size_t)(dot + 1 - norm)))
                rc = expose(ev, i, dot + 1, ml - (size_t)(dot + 1 - norm));
        }
    }
    return rc;
}

/* ---- canonical fields -------------------------------------------------- */

/* file.name / process.name: the part after the last path separator, a
 * slice of the path. */
static int set_basename(kb_event *ev, int c, int path_idx)
{
    const kb_field *f = &ev->fields[path_idx];
    size_t i = f->len;
    int rc;

    while (i > 0 && f->val[i - 1] != '\\' && f->val[i - 1] != '/')
        i--;
    if (i == f->len)
        return KB_OK;
    rc = kb_event_set(ev, c, KB_V_STR, f->val + i, f->len - i);
    return rc < 0 ? rc : KB_OK;
}

/* process.pid from a decimal or a "0x..." hexadecimal value (Security log
 * writes hex); hex is rewritten as decimal into the arena. */
static int set_pid(kb_event *ev, int idx)
{
    const kb_field *f = &ev->fields[idx];
    uint64_t v = 0;
    char tmp[24], *d;
    size_t n = 0;
    int rc;

    if (kb_parse_u64(f->val, f->len, &v) == KB_OK) {
        kb_event_alias(ev, KB_F_PROCESS_PID, idx);
        return KB_OK;
    }
    if (f->len < 3 || f->len > 18 || f->val[0] != '0' || (f->val[1] | 0x20) != 'x')
        return KB_OK;
    for (size_t i = 2; i < f->len; i++) {
        unsigned c = (unsigned char)f->val[i], h;
        if (c >= '0' && c <= '9')
            h = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            h = (c | 0x20) - 'a' + 10;
        else
            return KB_OK;
        v = v << 4 | h;
    }
    if (v == 0) /* "0x0": the Security log's way of saying no process */
        return KB_OK;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    d = kb_arena_alloc(ev->arena, n + 1);
    if (!d)
        return KB_ENOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    d[n] = '\0';
    rc = kb_event_set(ev, KB_F_PROCESS_PID, KB_V_INT, d, n);
    return rc < 0 ? rc : KB_OK;
}

/* Sysmon's Hashes: "SHA1=...,MD5=...,SHA256=...,IMPHASH=..." into
 * file.hash.*, lower-cased into the arena (ECS and IOC feeds write hex in
 * lower case). */
static int set_hashes(kb_event *ev, int idx)
{
    const kb_field *f = &ev->fields[idx];
    const char *s = f->val;
    size_t len = f->len, i = 0;

    while (i < len) {
        size_t j = i, eq, k;
        int c = -1;
        while (j < len && s[j] != ',')
            j++;
        for (eq = i; eq < j && s[eq] != '='; eq++)
            ;
        if (eq < j) {
            if (kb_str_ieqz(s + i, eq - i, "MD5"))
                c = KB_F_FILE_HASH_MD5;
            else if (kb_str_ieqz(s + i, eq - i, "SHA1"))
                c = KB_F_FILE_HASH_SHA1;
            else if (kb_str_ieqz(s + i, eq - i, "SHA256"))
                c = KB_F_FILE_HASH_SHA256;
        }
        if (c >= 0 && ev->canon[c] == KB_CANON_NONE && j - eq > 1) {
            size_t hl = j - eq - 1;
            char *d = kb_arena_alloc(ev->arena, hl + 1);
            int rc;
            if (!d)
                return KB_ENOMEM;
            for (k = 0; k < hl; k++) {
                char ch = s[eq + 1 + k];
                d[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
            }
            d[hl] = '\0';
            rc = kb_event_set(ev, c, KB_V_STR, d, hl);
            if (rc < 0)
                return rc;
        }
        i = j + 1;
    }
    return KB_OK;
}

/* user.name / user.domain: Sysmon's User "DOMAIN\name", else the target
 * account of the event, else its subject. */
static int set_user(kb_event *ev)
{
    int idx = find_value(ev, N_USER, T_TEXT), rc;

    if (idx >= 0) {
        const kb_field *f = &ev->fields[idx];
        const char *bs = memchr(f->val, '\\', f->len);
        if (!bs) {
            kb_event_alias(ev, KB_F_USER_NAME, idx);
            return KB_OK;
        }
        rc = kb_event_set(ev, KB_F_USER_DOMAIN, KB_V_STR, f->val, (size_t)(bs - f->val));
        if (rc < 0)
            return rc;
        rc = kb_event_set(ev, KB_F_USER_NAME, KB_V_STR, bs + 1, f->len - (size_t)(bs + 1 - f->val));
        return rc < 0 ? rc : KB_OK;
    }
    if (map(ev, KB_F_USER_NAME, N_TARGETUSERNAME, T_TEXT) >= 0) {
        map(ev, KB_F_USER_DOMAIN, N_TARGETDOMAINNAME, T_TEXT);
    } else if (map(ev, KB_F_USER_NAME, N_SUBJECTUSERNAME, T_TEXT) >= 0) {
        map(ev, KB_F_USER_DOMAIN, N_SUBJECTDOMAINNAME, T_TEXT);
    } else if (map(ev, KB_F_USER_NAME, N_WINLOG_USER_NAME, T_TEXT) >= 0) {
        map(ev, KB_F_USER_DOMAIN, N_WINLOG_USER_DOMAIN, T_TEXT);
    }
    return KB_OK;
}

/* Adds field names[n] as a copy of field idx when the record lacks it. */
static int add_alias(kb_event *ev, int n, int idx)
{
    if (idx < 0 || find(ev, n, ~0u) >= 0)
        return KB_OK;
    return expose_id(ev, (uint32_t)idx, ids[n]);
}

static int fill(kb_event *ev, const char *service, int64_t eid, int nested)
{
    int is_sysmon = service && strcmp(service, "sysmon") == 0;
    int is_4688 = service && strcmp(service, "security") == 0 && eid == 4688;
    int rc, idx;

    if ((rc = kb_event_set(ev, KB_F_EVENT_KIND, KB_V_STR, "event", 5)) < 0)
        return rc;
    rc = is_sysmon ? kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "sysmon", 6)
                   : kb_event_set(ev, KB_F_OBSERVER_PRODUCT, KB_V_STR, "windows", 7);
    if (rc < 0)
        return rc;
    map(ev, KB_F_HOST_NAME, N_COMPUTER, T_TEXT);
    if ((rc = set_user(ev)) != KB_OK)
        return rc;

    /* Audit success / failure from the keywords of the Security log. */
    idx = find_in(ev, N_KEYWORDS, T_TEXT, 1);
    if (idx >= 0) {
        const kb_field *f = &ev->fields[idx];
        const char *o = NULL;
        if (kb_str_ieqz(f->val, f->len, "0x8020000000000000") ||
            kb_str_eqz(f->val, f->len, "Audit Success"))
            o = "success";
        else if (kb_str_ieqz(f->val, f->len, "0x8010000000000000") ||
                 kb_str_eqz(f->val, f->len, "Audit Failure"))
            o = "failure";
        if (o && (rc = kb_event_set(ev, KB_F_EVENT_OUTCOME, KB_V_STR, o, strlen(o))) < 0)
            return rc;
    }

    /* The process. Security 4688 names the new process NewProcessName /
     * NewProcessId (its ProcessId is the creator's); Sigma's process
     * creation rules ask for Image and ParentImage, so those are added the
     * way Sigma's windows-audit mapping reads them. */
    if (is_4688) {
        if ((rc = add_alias(ev, N_IMAGE, find_value(ev, N_NEWPROCESSNAME, T_TEXT))) != KB_OK ||
            (rc = add_alias(ev, N_PARENTIMAGE, find_value(ev, N_PARENTPROCESSNAME, T_TEXT))) !=
                KB_OK)
            return rc;
        idx = find_value(ev, N_NEWPROCESSID, T_NUM);
    } else {
        idx = find_value(ev, N_PROCESSID, T_NUM);
    }
    if (idx >= 0 && (rc = set_pid(ev, idx)) != KB_OK)
        return rc;
    idx = map(ev, KB_F_PROCESS_EXECUTABLE, N_IMAGE, T_TEXT);
    if (idx < 0)
        idx = map(ev, KB_F_PROCESS_EXECUTABLE, N_PROCESSNAME, T_TEXT);
    if (idx < 0)
        idx = map(ev, KB_F_PROCESS_EXECUTABLE, N_SOURCEIMAGE, T_TEXT);
    if (idx >= 0 && (rc = set_basename(ev, KB_F_PROCESS_NAME, idx)) != KB_OK)
        return rc;
    map(ev, KB_F_PROCESS_COMMAND_LINE, N_COMMANDLINE, T_TEXT);
    map(ev, KB_F_PROCESS_PARENT_EXECUTABLE, N_PARENTIMAGE, T_TEXT);
    map(ev, KB_F_PROCESS_PARENT_EXECUTABLE, N_PARENTPROCESSNAME, T_TEXT);
    map(ev, KB_F_PROCESS_PARENT_COMMAND_LINE, N_PARENTCOMMANDLINE, T_TEXT);

    /* The network. */
    map(ev, KB_F_SOURCE_IP, N_SOURCEIP, T_TEXT);
    map(ev, KB_F_SOURCE_IP, N_IPADDRESS, T_TEXT);
    map(ev, KB_F_SOURCE_IP, N_SOURCEADDRESS, T_TEXT);
    map(ev, KB_F_SOURCE_PORT, N_SOURCEPORT, T_NUM);
    idx = find_value(ev, N_IPPORT, T_NUM);
    if (idx >= 0 && ev->canon[KB_F_SOURCE_PORT] == KB_CANON_NONE &&
        !kb_str_eqz(ev->fields[idx].val, ev->fields[idx].len, "0"))
        kb_event_alias(ev, KB_F_SOURCE_PORT, idx);
    map(ev, KB_F_DESTINATION_IP, N_DESTINATIONIP, T_TEXT);
    map(ev, KB_F_DESTINATION_IP, N_DESTADDRESS, T_TEXT);
    map(ev, KB_F_DESTINATION_PORT, N_DESTINATIONPORT, T_NUM);
    map(ev, KB_F_DESTINATION_PORT, N_DESTPORT, T_NUM);
    if (is_sysmon)
        map(ev, KB_F_NETWORK_TRANSPORT, N_PROTOCOL, T_TEXT);
    map(ev, KB_F_DNS_QUESTION_NAME, N_QUERYNAME, T_TEXT);

    /* Files. */
    idx = map(ev, KB_F_FILE_PATH, N_TARGETFILENAME, T_TEXT);
    if (idx < 0 && is_sysmon && (eid == 6 || eid == 7))
        idx = map(ev, KB_F_FILE_PATH, N_IMAGELOADED, T_TEXT);
    if (idx >= 0 && (rc = set_basename(ev, KB_F_FILE_NAME, idx)) != KB_OK)
        return rc;
    idx = find_value(ev, N_HASHES, T_TEXT);
    if (idx < 0)
        idx = find_value(ev, N_HASH, T_TEXT);
    if (idx >= 0 && (rc = set_hashes(ev, idx)) != KB_OK)
        return rc;

    if (is_sysmon)
        map(ev, KB_F_RULE_NAME, N_RULENAME, T_TEXT);
    map(ev, KB_F_MESSAGE, N_MESSAGE, T_TEXT);

    /* Winlogbeat also writes ECS fields of its own (host.name, process.*,
     * ...): they fill what the event data left empty. */
    if (nested) {
        for (uint32_t i = 0; i < ev->nfields; i++) {
            const kb_field *f = &ev->fields[i];
            if (f->name < KB_F_CANON_COUNT && ev->canon[f->name] == KB_CANON_NONE &&
                !(f->flags & KB_FF_ELEM) && f->type != KB_V_NULL && f->type != KB_V_ARRAY &&
                f->type != KB_V_OBJECT)
                ev->canon[f->name] = (uint16_t)i;
        }
    }
    return KB_OK;
}

static int sniff(const char *line, size_t len)
{
    size_t i = 0, n;
    const char *p;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] != '{')
        return 0;
    p = line + i;
    n = len - i < 768 ? len - i : 768;
    if (kb_memmem(p, n, "\"EventID\"", 9) || kb_memmem(p, n, "\"winlog\"", 8) ||
        (kb_memmem(p, n, "\"Event\"", 7) && kb_memmem(p, n, "\"System\"", 8)))
        return 90;
    return 0;
}

static int decode(kb_decode_ctx *ctx, const char *line, size_t len, kb_event *ev)
{
    kb_json_error jerr = {0};
    const char *service = NULL;
    const win_kind *k;
    int64_t eid = -1;
    int rc, idx, nested = 0;

    rc = kb_json_flatten(ev, line, len, NULL, &jerr);
    if (rc != KB_OK) {
        ctx->err = jerr.reason ? jerr.reason : "invalid JSON";
        return rc;
    }
    ev->format = kb_dec_winevt.name;
    kb_event_fids(ev->names, names, N_COUNT, ids, &ids_uid);
    kb_event_index(ev);
    if (find(ev, N_EVENTID, ~0u) < 0) {
        nested = 1;
        if ((rc = expose_nested(ev)) != KB_OK)
            goto fail;
    }

    idx = find(ev, N_EVENTID, T_NUM);
    if (idx < 0) {
        ctx->err = "no EventID: not a Windows event record";
        return KB_EPARSE;
    }
    /* A non-numeric EventID is kept as it is but classifies nothing. */
    if (kb_parse_i64(ev->fields[idx].val, ev->fields[idx].len, &eid) != KB_OK || eid < 0)
        eid = -1;

    idx = find(ev, N_TIMECREATED, T_TEXT);
    if (idx < 0 && nested)
        idx = find(ev, N_TIMESTAMP, T_TEXT);
    if (idx < 0 ||
        kb_time_parse_iso8601(ev->fields[idx].val, ev->fields[idx].len, &ev->ts) != KB_OK) {
        ev->ts = KB_TIME_NONE;
        ctx->err = "missing or invalid TimeCreated";
        return KB_EPARSE;
    }
    kb_event_alias(ev, KB_F_TIMESTAMP, idx);

    idx = find(ev, N_CHANNEL, T_TEXT);
    if (idx >= 0)
        service = service_of(ev->fields[idx].val, ev->fields[idx].len);
    if (!service) {
        /* Forwarded or re-exported Sysmon events keep their provider. */
        idx = find(ev, N_PROVIDER_NAME, T_TEXT);
        if (idx >= 0 &&
            kb_str_ieqz(ev->fields[idx].val, ev->fields[idx].len, "Microsoft-Windows-Sysmon"))
            service = "sysmon";
    }
    ev->ls.product = "windows";
    ev->ls.service = service;
    k = kind_of(service, eid);
    if (k) {
        ev->ls.category = k->sigma;
        if (eid == 12 && service && strcmp(service, "sysmon") == 0) {
            idx = find(ev, N_EVENTTYPE, T_TEXT);
            if (idx >= 0 && (kb_str_eqz(ev->fields[idx].val, ev->fields[idx].len, "DeleteKey") ||
                             kb_str_eqz(ev->fields[idx].val, ev->fields[idx].len, "DeleteValue")))
                ev->ls.category = "registry_delete";
        }
        if (k->ecs &&
            (rc = kb_event_set(ev, KB_F_EVENT_CATEGORY, KB_V_STR, k->ecs, strlen(k->ecs))) < 0)
            goto fail;
        if ((rc = kb_event_set(ev, KB_F_EVENT_ACTION, KB_V_STR, k->action, strlen(k->action))) < 0)
            goto fail;
    }
    if ((rc = fill(ev, service, eid, nested)) != KB_OK)
        goto fail;
    return KB_OK;

fail:
    ctx->err = rc == KB_ENOMEM ? "event arena full" : "too many fields";
    return rc;
}

const kb_decoder kb_dec_winevt = {
    .name = "winevt",
    .doc = "Windows events as JSON: flat (evtxexport, hayabusa), nested Event.System / "
           "EventData (evtx dumpers), Winlogbeat winlog.*",
    .sniff = sniff,
    .decode = decode,
    .state_new = NULL,
    .state_free = NULL,
};
