// Downloads started with the shell: a file fetched by curl or wget, then opened by the
// shell's own launcher, whatever its name says it is.

rule shell_download_then_start {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 10
        label = "downloads a file with curl or wget and starts it"
    strings:
        // `os.system(f'curl -s -L "{url}" -o "{path}"')`, `curl -L {url} -O`
        $fetch = /\b(curl|wget)(\.exe)?\s[^\n]{0,200}\s(-o|-O|--output|--output-document)(\s|["'`=]|$)/
        // then `os.startfile(path)` or `cmd /c start "" path`: Windows runs an executable,
        // a script or a document by what it is, not by what the URL called it
        $start1 = /\bos\.startfile\s*\(/
        $start2 = /["'`](cmd(\.exe)?\s+\/c\s+)?start\s+(""|''|\/b|\/min|["'{$])/
        $start3 = /\bStart-Process\b/
    condition:
        $fetch and ($start1 or $start2 or $start3)
}

rule downloaded_archive_script_run {
    meta:
        indicator = "executes_code_at_remote_url_rule"
        capability = "download_exec"
        weight = 12
        label = "downloads an archive, unpacks it and runs a Python script from it"
    strings:
        // `requests.get(URL)` written to `x.zip`, `ZipFile(...).extractall(dir)`, then
        // `os.system(f"py {dir}\\pkg\\__init__.py")`: a second stage of many modules,
        // fetched whole and run by the interpreter's launcher. Installers of tools run the
        // binaries they unpack, not Python scripts by a command line.
        $get = /\b(urlopen|urlretrieve)\s*\(|\b(reques|\B\b)ts\.get\s*\(|\b(ht|\B\b)tpx\.get\s*\(/
        $unpack = /\.extractall\s*\(/
        $run = /\b(system|Popen|run|call|check_call)\s*\(\s*f?["'`](py|pyw|python[23w]?)(\.exe)?\s[^\n]{0,200}\.pyw?\b/
    condition:
        $get and $unpack and $run
}
