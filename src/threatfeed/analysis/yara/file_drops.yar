// Anonymous file drops that network.yar's payload_hosting_url does not list, and scripts
// or executables served from a personal file share: where droppers keep their second
// stage. Kept apart from network.yar so that each list stays short and its atoms literal.
// The scheme is written `(https?:\/\/|\B\b)` (the same matches: see execution.yar's head)
// so that yara-x takes its atoms from the host names, not from the http of every URL.

rule anonymous_file_drop_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "payload_host"
        weight = 5
        label = "anonymous file drop or paste"
    strings:
        // upload-by-curl drops: no account, links handed out to anyone
        $a = /(https?:\/\/(www\.)?|\B\b)(x0\.at|tmpfiles\.org\/dl|(files|litter)\.catbox\.moe|[a-z]\.uguu\.se|pixeldrain\.com\/api\/file|oshi\.at|ttm\.sh|envs\.sh)\// nocase
        // raw views of paste services that payload_hosting_url does not list
        $b = /(https?:\/\/|\B\b)(paste\.pythondiscord\.com\/raw|pastebin\.pl\/view\/raw|hst\.sh\/raw|paste\.rs)\/[\w-]/ nocase
    condition:
        any of them
}

rule script_on_file_share_url {
    meta:
        indicator = "suspicious_url_references_rule"
        capability = "payload_host"
        weight = 10
        label = "script or executable on a personal file share"
    strings:
        // a shared link's direct download of something that runs: software is released
        // from its project's site or a registry, a dropper's stage from someone's share
        $a = /(https?:\/\/|\B\b)(dl\.dropbox(usercontent)?\.com|(www\.)?dropbox\.com)\/(s|scl\/fi)\/[\w\/-]{1,120}\.(sh|exe|ps1|bat|cmd|vbs|py|pyw|scr|msi|hta)\b/ nocase
    condition:
        $a
}
