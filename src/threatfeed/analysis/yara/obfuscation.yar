// Code written to be unreadable: mangled identifiers, packers, protectors.

rule js_hex_identifiers {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 17
        label = "identifiers mangled as _0x... (javascript-obfuscator)"
    strings:
        $a = /\b_0x[0-9a-f]{4,6}\b/
    condition:
        #a > 30
}

rule js_eval_inline_code {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 12
        label = "evaluates a large inline string of code"
    strings:
        $a = /\beval\s*\(\s*["'`]\(?function\s*\w{0,40}\s*\(/
        $b = /\bnew\s+Function\s*\(\s*["'`][^"'`\n]{300}/
    condition:
        any of them
}

rule js_packer {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 17
        label = "Dean Edwards style packer"
    strings:
        $a = /eval\s*\(\s*function\s*\(\s*p\s*,\s*a\s*,\s*c\s*,\s*k\s*,\s*e\s*,\s*[dr]\s*\)/
    condition:
        $a
}

rule invisible_characters {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 17
        label = "hides text in a run of invisible characters (variation selectors, tags, private use)"
    strings:
        // Sixteen or more in a row: a byte each (GlassWorm's variation selectors, tag
        // characters, private-use letters), decoded by a few lines of code that hold no
        // payload. No code file of 2,100 benign packages holds such a run; emoji carry
        // one selector, icon fonts' glyph tables one private-use letter per name.
        $selectors = /(\xf3\xa0[\x80-\x87][\x80-\xbf]|\xef\xb8[\x80-\x8f]){16}/
        $private = /(\xee[\x80-\xbf][\x80-\xbf]|\xef[\x80-\xa3][\x80-\xbf]|\xf3[\xb0-\xbf][\x80-\xbf][\x80-\xbf]){16}/
        $fillers = /(\xe3\x85\xa4|\xef\xbe\xa0|\xe2\x80[\x8b-\x8d]|\xe2\x81\xa0){16}/
    condition:
        any of them
}

rule invisible_identifier {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 10
        label = "an identifier no editor shows (a Hangul filler standing alone as a name)"
    strings:
        // Hangul fillers are letters to JavaScript, so one alone is a name that reads as
        // blank: `const { timeout, ㅤ } = req.query` then `[..., ㅤ]` in a list of commands
        // run hands a hidden query parameter to exec (the "invisible backdoor" of 2021).
        // Text and tables hold fillers beside other letters, not between punctuation.
        $a = /[,{(\[=;]\s*(\xe3\x85\xa4|\xe1\x85\x9f|\xe1\x85\xa0|\xef\xbe\xa0){1,8}\s*[,})\]=;]/
    condition:
        $a
}

rule js_jsfuck {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 4
        label = "JSFuck or aaencode"
    strings:
        $a = "[][(![]+[])[+[]]"
        $b = "(![]+[])[+!+[]]"
        $c = /゚ω゚ﾉ/
    condition:
        any of them
}

rule python_protector {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 2
        label = "PyArmor or similar protector"
    strings:
        $a = "__pyarmor__"
        $b = "pyarmor_runtime"
        $c = "__PYARMOR__"
    condition:
        any of them
}

rule python_mangled_names {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 3
        label = "identifiers mangled as lIlI/O0O0/____"
    strings:
        $a = /\b[lI]{6,}[lI1]*\b/
        // `[O0]{6,}` spelled out: the same matches, but yara-x compiles the spelled-out
        // form to a cheaper search (runs of zeros cost 5x less to scan)
        $b = /\b[O0][O0][O0][O0][O0][O0]+\b/
        // `\b_{5,}[A-Za-z0-9]?\s*=` with the head hidden by `(...|\B\b)` (see the head of
        // execution.yar): the atoms are a run's last `___` and the byte after it, one
        // per run, not a `____` at every byte of each `# ______` line
        $c = /(\b__|\B\b)_*___(=|[A-Za-z0-9]\s*=|\s\s*=)/
    condition:
        #a > 10 or #b > 10 or #c > 10
}

rule python_import_hiding {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 3
        label = "hides imports and builtins behind __import__/getattr"
    strings:
        $a = /__import__\s*\(\s*["'](base64|zlib|marshal|builtins|os|subprocess|lzma|bz2|codecs)["']\s*\)\s*\.\s*(b64decode|decompress|loads|exec|system|popen|Popen|decode)/
        $b = /getattr\s*\(\s*__builtins__/
        $c = /globals\s*\(\s*\)\s*\[\s*["']__builtins__["']\s*\]/
    condition:
        any of them
}

rule python_exec_alias {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 8
        label = "renames exec/eval to hide calls to it"
    strings:
        $a = /=\s*(\w{1,40}\s*,\s*){0,10}(exec|eval)\s*,\s*\w{1,40}/
        $b = /\n[ \t]*\w{1,40}\s*=\s*(exec|eval)[ \t]*\r?\n/
        $c = "__obfuscator__"
    condition:
        any of them
}

rule python_name_decoded_at_use {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 10
        label = "imports a module or reaches an attribute by a name it decodes on the spot"
    strings:
        // `importlib.import_module("".join(map(chr, CODES)))`, `getattr(m, bytes(N).decode())`,
        // `__import__(b64decode(x).decode())`, `getattr(os, "metsys"[::-1])`: the name is
        // written so that no reader or search finds it (the codes may sit in another module)
        $import = /\b(import_module|__import__)\s*\(\s*(["']{2}\s*\.\s*join\s*\(\s*(map\s*\(\s*chr\b|chr\s*\(|reversed\s*\()|(bytes|bytearray)\s*\(\s*[\w.\[]|str\s*\(\s*bytes\s*\(|(base64\.)?b64decode\s*\(|bytes\.fromhex\s*\(|codecs\.decode\s*\(|["'][\w.]{2,40}["']\s*\[::-1\])/
        $attr = /\bgetattr\s*\(\s*[\w.]{1,60}\s*,\s*(["']{2}\s*\.\s*join\s*\(\s*(map\s*\(\s*chr\b|chr\s*\(|reversed\s*\()|(bytes|bytearray)\s*\(\s*[\w.\[]|str\s*\(\s*bytes\s*\(|(base64\.)?b64decode\s*\(|bytes\.fromhex\s*\(|codecs\.decode\s*\(|["'][\w.]{2,40}["']\s*\[::-1\])/
    condition:
        $import or $attr
}

rule python_char_code_strings {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 6
        label = "builds names from character codes"
    strings:
        // (`for`, `in` and the last `,` kept out of the atoms by `|\B\b`, as at the head of
        // execution.yar: a quarter of the scan cost)
        $a = /chr\s*\(\s*\w{1,20}\s*\)\s+(for|\B\b)\s+\w{1,20}\s+(in|\B\b)\s+\[\s*\d{2,3}\s*,\s*\d{2,3}\s*(,|\B\b)/
        $b = /(''|"")\.join\s*\(\s*(map\s*\(\s*chr|\[\s*chr\s*\()/
    condition:
        $a or #b > 2
}

rule embedded_encoded_executable {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 10
        label = "embeds an executable encoded as base64"
    strings:
        $pe = "TVqQAAMAAAAEAAAA"
        $elf = "f0VMRgIBAQ"
        $elf32 = "f0VMRgEBAQ"
    condition:
        any of them
}

rule python_underscore_imports {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 5
        label = "imports renamed to underscores"
    strings:
        // (the import kept out of the atoms by `|\B\b`, as at the head of execution.yar,
        // and `as\s+___+` spelled so that the atoms are `as _`, `as  `..., not the ` as `
        // of every import and sentence nor the ` ___` of every `# ______` line)
        $a = /(\b(import|\B\b)\s+\w{1,30}\s+|\B\b)as(\s___|\s\s\s*___)_*\b/
    condition:
        #a >= 2
}

rule python_zlib_bytes_literal {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 6
        label = "carries zlib-compressed code as an escaped bytes literal"
    strings:
        $a = /\bb["']x\\x(9c|da|5e|01)(\\x[0-9a-f]{2}|[^"'\\\n]){40}/
    condition:
        $a
}

rule base64_encoded_url {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "hidden_url"
        weight = 6
        label = "hides a URL as a base64 string"
    strings:
        // the opening quote inside each alternative, for atoms that include it (see
        // base64_program_text)
        $a = /("aHR0cHM6Ly|'aHR0cHM6Ly|"aHR0cDovL|'aHR0cDovL)[A-Za-z0-9+\/]{6,}={0,2}["']/
    condition:
        $a
}

rule js_string_array_rotation {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 17
        label = "string table rotated until a checksum holds (javascript-obfuscator)"
    strings:
        // javascript-obfuscator's preamble, whatever its names: the string table is
        // shifted and pushed back in a `while(!![])` loop until a sum of parseInt() of
        // entries fetched by hex index hits a constant. Renaming the `_0x...` identifiers
        // (which js_hex_identifiers counts) leaves it intact.
        $rotate = /\[\s*["']push["']\s*\]\s*\(\s*[\w$]{1,40}\s*\[\s*["']shift["']\s*\]\s*\(\s*\)\s*\)/
        // (`(...|\B\b)`, see the head of execution.yar: the atom is `shif`, not the `push`
        // of every array)
        $rotate_dot = /(\.push\s*\(\s*[\w$]{1,40}\s*\.|\B\b)\s*shift\s*\(\s*\)\s*\)/
        $loop = /while\s*\(\s*!!\s*\[\s*\]\s*\)/
        $sum = /parseInt\s*\(\s*[\w$]{1,40}\s*\(\s*0x[0-9a-fA-F]{1,6}\s*\)\s*\)\s*\//
    condition:
        ($rotate and ($loop or $sum)) or ($rotate_dot and $loop and $sum)
}

rule js_hex_string_array {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 17
        label = "table of strings spelled as \\x escapes behind an _0x name"
    strings:
        $a = /\b(var|const|let)\s+_0x[0-9a-f]{3,6}\s*=\s*\[\s*["'](\\x[0-9a-fA-F]{2})+["']/
        // A first entry too long for a regex match to reach its closing quote.
        $b = /\b(var|const|let)\s+_0x[0-9a-f]{3,6}\s*=\s*\[\s*["'](\\x[0-9a-fA-F]{2}){16}/
    condition:
        $a or $b
}

rule js_escaped_identifiers {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 14
        label = "identifiers spelled as unicode escapes outside strings"
    strings:
        // JavaScript accepts escapes in identifiers, so `eval(` can be written with
        // no letter of its name visible. Minifiers and people never write code like that:
        // only code hiding which function it calls does.
        $a = /[;,(){}=.\s](\\u00[2-7][0-9a-fA-F]){3,}\s*[(.=\[]/
    condition:
        $a
}

rule js_indexed_string_building {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 13
        label = "strings assembled from numbered entries of a table"
    strings:
        // `_t[21]+_t[31]+_t[41]+...`: every word of the code rebuilt from a shuffled
        // character or fragment table, so that no URL, header or API name is readable.
        $a = /([A-Za-z_$][\w$]{0,5}\[\d{1,3}\]\+){7}[A-Za-z_$][\w$]{0,5}\[\d{1,3}\]/
    condition:
        $a
}

rule python_builtin_repr_letters {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 6
        label = "spells names with letters cut from the text of builtins"
    strings:
        // `oct.__str__()[-3] + hex.__str__()[-1]...` spells "chr" without writing it, as
        // public Python obfuscators do; nobody indexes the repr of a builtin otherwise.
        $a = /\b(oct|hex|bin|copyright|credits|license|str|int|bool|type)\.__(str|repr|name|doc)__(\(\))?\s*\[/
    condition:
        $a
}

rule python_builtins_star_lambda_chain {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 10
        label = "star-imports builtins, then binds mangled names to lambdas on one line"
    strings:
        // (`|\B\b`, as at the head of execution.yar: the atom is `ilti`, not every `from`)
        $a = /(from\s+bu|\B\b)iltins\s+import\s+\*\s*;\s*\w{6,60}\s*,\s*\w{6,60}\s*,/
    condition:
        $a
}

rule base64_program_text {
    meta:
        indicator = ""
        capability = "encoded_program"
        weight = 0
        label = "base64 literal starting like program text"
    strings:
        // The base64 spellings of `import`, `from `, `exec(`, `eval(`, `def `, `#!/`,
        // `require(`, `const `, `var `, `function`, `curl `, `wget `, `rm -`, `chmod `,
        // `bash `, `powershell`, `\r\nimport`, `\nimport` at the start of a long literal;
        // obfuscation.py decodes the literal to confirm it is printable program text.
        // Each prefix written with its opening quote (`"aW1wb3J0|'aW1wb3J0|...` is
        // `["'](aW1wb3J0|...)`) so that yara-x's atoms include the quote: the bare prefixes
        // are common four-letter runs inside any base64 blob.
        $a = /("aW1wb3J0|'aW1wb3J0|"ZnJvbS|'ZnJvbS|"ZXhlYy|'ZXhlYy|"ZXZhbC|'ZXZhbC|"ZGVmI|'ZGVmI|"IyEv|'IyEv|"cmVxdWlyZS|'cmVxdWlyZS|"Y29uc3Qg|'Y29uc3Qg|"dmFyI|'dmFyI|"ZnVuY3Rpb2|'ZnVuY3Rpb2|"Y3VybC|'Y3VybC|"d2dldC|'d2dldC|"cm0gL|'cm0gL|"Y2htb2Qg|'Y2htb2Qg|"YmFzaC|'YmFzaC|"cG93ZXJzaGVsb|'cG93ZXJzaGVsb|"DQppbXBvcnQ|'DQppbXBvcnQ|"CmltcG9ydC|'CmltcG9ydC)[A-Za-z0-9+\/]{150}/
    condition:
        $a
}

rule base64_download_command {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 10
        label = "a download command (curl, wget, PowerShell) encoded as base64"
    strings:
        // base64 of `curl http`, `curl -`, `wget http`, `wget -`, `powershell`, `bash -c`,
        // `iwr http`, `Invoke-WebRequest` at the start of a literal: a command line has
        // no reason to be encoded but to be missed by readers and scanners
        $a = /["'](Y3VybCBodHRw|Y3VybCAt|d2dldCBodHRw|d2dldCAt|cG93ZXJzaGVsbC|YmFzaCAtYy|aXdyIGh0dH|SW52b2tlLVdlYlJlcXVlc3Qg)[A-Za-z0-9+\/]{8}/
    condition:
        $a
}

rule python_marshal_embedded {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 10
        label = "unmarshals an embedded base64 blob (compiled code or tables kept unreadable)"
    strings:
        // `marshal.loads(base64.b64decode("..."))` on a literal: marshal is CPython's own
        // format for code objects, tied to one interpreter version and not meant for data
        // interchange; a package that ships its data this way ships what no reader can
        // review, the way obfuscators wrap programs.
        $a = /marshal\.loads\s*\(\s*(base64\.)?b64decode\s*\(\s*b?["'][A-Za-z0-9+\/]{16}/
    condition:
        $a
}
