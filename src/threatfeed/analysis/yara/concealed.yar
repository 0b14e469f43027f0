// What a payload hides behind other spellings: a repeating-key XOR in front of `exec`, an
// address decoded inside the request that uses it, the environment copied into a variable
// before it is serialised, a cryptominer started with a wallet on its command line.

rule python_keyed_xor_then_exec {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "executes code decoded with a repeating-key XOR"
    strings:
        // `data[i] ^ key[i % len(key)]`, `[c ^ k[i % 6] for i in ...]`: a repeating-key XOR,
        // written byte by byte (the `chr(ord(c) ^ ...)` spelling is
        // python_xor_decode_then_exec's). Two patterns, each with a literal to anchor on:
        // one alternation of both cost three times as much to scan.
        $xor = /\^\s*[\w.]{1,40}\s*\[\s*\w{1,20}\s*%\s*len\s*\(/
        $xor_n = /\^\s*[\w.]{1,40}\s*\[\s*\w{1,20}\s*%\s*\d{1,3}\s*\]\s*for\s/
        // ... of bytes decoded from an embedded literal ...
        // (`(fro|\B\b)mhex`, its own branch: the atom is `mhex`, not the `from` of every
        // import; see the head of execution.yar)
        $decode = /\b(b64decode|b85decode|b32decode|unhexlify)\s*\(|\b(fro|\B\b)mhex\s*\(/
        // ... whose result is executed, whichever variable or method carries it
        $run = /\b(exec|eval)\s*\(\s*(compile\s*\(\s*)?[A-Za-z_][\w.]{0,60}\s*[,()]/
    condition:
        ($xor or $xor_n) and $decode and $run
}

rule request_to_decoded_address {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "hidden_url"
        weight = 6
        label = "requests an address decoded inside the call (base64 or hex)"
    strings:
        // `requests.get(base64.b64decode(KEY) + secret)`,
        // `urlopen(str(b64decode(X), encoding="utf-8"))`: the address is never visible as
        // text, not even to a reader of the line that sends. Clients of a service name it.
        // (Speed: the method group takes `|\B\b` and `bytes.fromhex` its own branch, so that
        // the atoms are the decoders' names and `tes.`, not the `.get` of every call: the
        // same matches, see the head of execution.yar.)
        $a = /\b(requests|session|httpx|client|urllib\.request|request)\.(get|post|put|request|urlopen|\B\b)\s*\(\s*(str\s*\(\s*)?(base64\.)?(b64decode|urlsafe_b64decode|b32decode|b85decode|unhexlify)\s*\(|\b(requests|session|httpx|client|urllib\.request|request)\.(get|post|put|request|urlopen|\B\b)\s*\(\s*(str\s*\(\s*)?(base64\.)?bytes\.fromhex\s*\(/
        $b = /\burlopen\s*\(\s*(str\s*\(\s*)?(base64\.)?(b64decode|urlsafe_b64decode|b32decode|b85decode|bytes\.fromhex|unhexlify)\s*\(/
    condition:
        any of them
}

rule environment_copied_then_serialised {
    meta:
        indicator = "credential_harvesting_rule"
        capability = "harvest"
        weight = 5
        label = "the whole environment, copied then serialised (secrets of CI and developers)"
    strings:
        // `env = dict(os.environ)` and, a few lines below, `json.dumps(env)`: the dump of
        // harvesting.yar's environment_dump, spread over two statements. Copies handed to a
        // subprocess (`env=env`) are not serialised.
        $a = /=\s*(dict\s*\(\s*os\.environ\s*\)|os\.environ\.copy\s*\(\s*\))[^\n]{0,80}\n([^\n]{0,200}\n){0,4}[^\n]{0,120}\b(json\.dumps|pickle\.dumps|b64encode)\s*\(/
    condition:
        $a
}

rule cryptominer_launch {
    meta:
        indicator = "cryptominer_rule"
        capability = "exec"
        weight = 12
        label = "starts a cryptocurrency miner with a pool and a wallet"
    strings:
        // miner command lines: a pool URL, a miner's own options, a wallet handed to it
        $pool = /stratum\+(tcp|ssl|tls):\/\//
        $donate = /--donate-level\b/
        $hashrate = /-report-realtime-hashrate\b/
        $wallet = /\s-(w|-wallet|u|-user)[ =]["']?(dero1[0-9a-z]{60,}|4[0-9AB][1-9A-HJ-NP-Za-km-z]{93})\b/
        // and the file starts it
        $run = /\b(os\.system|(os|\B\b)\.popen|subprocess\.(run|call|Popen|check_output|check_call)|Popen|execSync|spawn)\s*\(/
    condition:
        $run and ($pool or $donate or $hashrate or $wallet)
}

rule string_decoder {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "decodes strings with a character shift, a reversal, hex or rot13"
    strings:
        // what concealed_endpoint_rule decodes: only files marked here are decoded there
        $shift = /chr\s*\(\s*ord\s*\(/
        $js_shift = "charCodeAt"
        // reversal and rot13 only with their spelling of `http(s)://`
        $reversed_url = /\/\/:s?ptth/
        $rot13_url = /uggcf?:\/\//
        $hex_decode = /\b(fro|\B\b)mhex\s*\(|\bunhexlify\s*\(|Buffer\.from\s*\([^)\n]{1,200}["']hex["']/
        $hex_url = /3[aA]2[fF]2[fF]/
    condition:
        $shift or $js_shift or $reversed_url or $rot13_url or ($hex_decode and $hex_url)
}

rule python_exec_of_parenthesised_decoder_on_blob {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "executes a blob through a decoder bound to a name"
    strings:
        // `_ = lambda s: zlib.decompress(b64decode(s[::-1]))` then `exec((_)(b'=0LB...'))`:
        // the exec(decoder(blob)) of python_decode_then_exec with the decoder's name in
        // parentheses, the output shape of a popular online obfuscator
        $a = /\bexec\s*\(\s*\(\s*[\w.]{1,40}\s*\)\s*\(\s*b?["'][A-Za-z0-9+\/=_-]{100}/
    condition:
        $a
}

rule python_builtin_by_computed_name_on_decoded_data {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 17
        label = "calls a builtin chosen at run time on decoded data"
    strings:
        // `getattr(builtins, name)(b64decode(blob).decode())`: `name` is decrypted at run
        // time (here to `exec`), so neither `exec` nor `eval` is ever written
        $a = /\bgetattr\s*\(\s*(builtins|__builtins__)\s*,\s*[A-Za-z_]\w{0,40}\s*\)\s*\(\s*[^\n]{0,40}\b(b64decode|b32decode|b85decode|decompress|unhexlify|fromhex|decrypt)\s*\(/
    condition:
        $a
}

rule python_builtin_by_decoded_name {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "calls a builtin whose name it decodes on the spot (exec or eval, unwritten)"
    strings:
        // `getattr(builtins, bytes(RUN).decode())(script)`: what a builtin fetched by a
        // hidden name is called on is code, or it would not be hidden
        // (also through the module's namespace: `vars(builtins)[bytes(N).decode()](src)`)
        $ns = /\bvars\s*\(\s*(builtins|__builtins__)\s*\)\s*\[\s*(["']{2}\s*\.\s*join\s*\(\s*(map\s*\(\s*chr\b|chr\s*\(|reversed\s*\()|(bytes|bytearray)\s*\(\s*[\w.\[]|str\s*\(\s*bytes\s*\(|(base64\.)?b64decode\s*\(|bytes\.fromhex\s*\(|codecs\.decode\s*\(|["'][a-z]{4}["']\s*\[::-1\])/
        $a = /\bgetattr\s*\(\s*(builtins|__builtins__)\s*,\s*(["']{2}\s*\.\s*join\s*\(\s*(map\s*\(\s*chr\b|chr\s*\(|reversed\s*\()|(bytes|bytearray)\s*\(\s*[\w.\[]|str\s*\(\s*bytes\s*\(|(base64\.)?b64decode\s*\(|bytes\.fromhex\s*\(|codecs\.decode\s*\(|["'][a-z]{4}["']\s*\[::-1\])[^\n]{0,80}\)\s*\)\s*\(/
    condition:
        $a or $ns
}

rule bit_string_decoded_then_run {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 12
        label = "decodes bytes from a string of bits (whitespace or stego carriers) and runs code"
    strings:
        // eight bits at a time (`int(bits[i:i + 8], 2)`, `parseInt(s.substr(i, 8), 2)`): how
        // text hidden as trailing spaces and tabs, zero-width characters or picture bits is
        // read back; in a file that also runs code
        $py = /\bint\s*\(\s*[\w.]{1,40}\s*\[[^\]\n]{1,30}\+\s*8\s*\]\s*,\s*2\s*\)/
        $js = /parseInt\s*\(\s*[\w.$]{1,40}\.(substr|substring|slice)\s*\(\s*[\w$]{1,20}\s*,\s*([\w$]{1,20}\s*\+\s*)?8\s*\)\s*,\s*2\s*\)/
        $run = /\b(exec|eval)\s*\(|\bnew\s+Function\s*\(|\bvm\.run/
    condition:
        ($py or $js) and $run
}

rule js_module_compiled_from_decoded_text {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 14
        label = "compiles text it decodes into a new module (event-stream's loader)"
    strings:
        // `var f = new module.constructor; f.paths = module.paths; f._compile(text, "")`,
        // `_compile` itself spelled in hex: a module made of a decrypted string, with the
        // helper that decodes its names beside it. Loaders that build modules from strings
        // (require-from-string) use `require('module')`, and decode nothing.
        $ctor = /\bnew\s+module\.constructor\b|\bmodule\.constructor\s*\(/
        $decode = /Buffer\.from\s*\([^)\n]{1,200},\s*["'](hex|base64)["']\s*\)|\batob\s*\(|createDecipher(iv)?\s*\(/
    condition:
        $ctor and $decode
}

rule python_decoder_function {
    meta:
        indicator = ""
        capability = "decoder_function"
        weight = 0
        label = "decodes data and executes what a call returns"
    strings:
        // marks files for decoder_function_exec_rule, which checks that the function
        // executed is the decoder: `def load(p): ... return b64decode(data)` ...
        // `exec(load(name))`
        // (the `return` before the decoder is checked there: as an atom it is everywhere)
        // (`dec(o|\B\b)` is `deco`, as at the head of execution.yar: decodebytes and
        // decompress then take their atoms after it, not the `deco` of every decode())
        $decode = /\b(b64decode|b32decode|b85decode|dec(o|\B\b)debytes|dec(o|\B\b)mpress|unhexlify)\s*\(|\b(fro|\B\b)mhex\s*\(/
        $exec = /\b(exec|eval)\s*\(\s*[A-Za-z_]\w{0,40}\s*\(/
    condition:
        $decode and $exec
}

rule python_code_runner {
    meta:
        indicator = ""
        capability = "runner"
        weight = 0
        label = "runs code with exec or eval"
    strings:
        // marks files for running_code_execution_rule, which asks whether they decode or
        // download (words looked for in the marked files alone: here they cost a twentieth
        // of the scan), parses them and follows what is run to where it comes from:
        // `exec`/`eval` called by name (not `.execute(`), or the builtins module named
        // (`getattr(builtins, "".join([...]))`)
        $run = /(^|[^.\w])(exec|eval)\s*\(|\(\s*(exec|eval)\s*\)\s*\(/
        $builtins = "builtins"
    condition:
        $run or $builtins
}

rule js_decipher {
    meta:
        indicator = ""
        capability = "decipher"
        weight = 0
        label = "deciphers data (crypto.createDecipher)"
    strings:
        // marks files for decrypted_code_exec_rule, which checks that what is deciphered
        // is run (`eval`, `Function`, `vm`, `module._compile`)
        $a = /\bcreateDecipher(iv)?\s*\(/
    condition:
        $a
}

rule zlib_stream_in_hex {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "obfuscation"
        weight = 6
        label = "compressed data spelled in hex (a zlib stream)"
    strings:
        // `bytes.fromhex('789ced5c...')`: the `b'x\x9c...'` literal of
        // python_zlib_bytes_literal spelled in hex, the payload of Python obfuscators that
        // then decompress and execute it
        $a = /["']78(9c|da|01|5e)[0-9a-fA-F]{200}/
    condition:
        $a
}

rule network_call_named_in_fragments {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "network"
        weight = 8
        label = "loads a network library by name and calls a method spelled in fragments"
    strings:
        // `rq = __import__("requests")` then `getattr(rq, "".join(["g", "e", "t"]))(url)`:
        // neither the import nor the call is visible to readers or signatures
        $import = /__import__\s*\(\s*["'](requests|httpx|urllib\.request|urllib3|aiohttp|http\.client|socket)["']\s*\)/
        $call = /getattr\s*\(\s*[\w.]{1,40}\s*,\s*(""|'')\.join\s*\(\s*[\[(]?\s*["'][^"'\n]{1,3}["']\s*,\s*["'][^"'\n]{1,3}["']/
    condition:
        $import and $call
}

rule python_decode_into_variable_then_exec_at_line_start {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 14
        label = "decodes into a variable, then executes it a few lines below"
    strings:
        // execution.yar's python_decode_into_variable_then_exec wants a character before
        // `exec`, so `cake = b64decode(blob)` then `exec(cake)` in column 0 (a script's
        // top level) escaped it; the same spread-out decode-and-execute, at line start
        // (`json.loads` left out: it is everywhere, and what it returns is data). The
        // `|\B\b` branch (see execution.yar's head) moves the atom to the line-start
        // `exec`/`eval`: each decompress() of a library was verified over the five lines after it.
        $a = /(b64decode|b32decode|b85decode|decompress|marshal\.loads|unhexlify|\B\b)\s*\([^\n]{0,200}\n([^\n]{0,200}\n){0,4}(exec|eval)\s*\(\s*[A-Za-z_]\w{0,40}\s*[,)]/
    condition:
        $a
}

rule python_builtins_defined_from_a_table {
    meta:
        indicator = "decode_and_execute_rule"
        capability = "decode_exec"
        weight = 8
        label = "defines builtins under names taken from a table (an obfuscator hiding its exec)"
    strings:
        // `setattr(__builtins__, name, value)` for names held in variables: obfuscators
        // (pyobfuscate) install their decoder and `exec` as builtins with generated names,
        // so the payload's own call reads as an unknown name. Code that adds a builtin
        // (gettext's `_`) names it with a literal.
        $a = /setattr\s*\(\s*__builtins__\s*,\s*[A-Za-z_]/
    condition:
        $a
}

rule host_spelled_in_hex {
    meta:
        indicator = "obfuscated_code_rule"
        capability = "hidden_url"
        weight = 8
        label = "a host name or address spelled in hex"
    strings:
        // A whole literal that is hex of a host name (`"636f7061796170692e686f7374"` is
        // `copayapi.host`) or of a dotted IPv4 address (`"3131312e39302e..."`), handed to
        // `Buffer.from(s, 'hex')` or `bytes.fromhex` where it is used: letters, digits,
        // `-` and `.` only, ending in a common top-level domain. Hex data (hashes, keys,
        // test vectors) is not made of such characters from quote to quote.
        $host = /["'`](6[1-9a-fA-F]|7[0-9aA]|3[0-9]|2[dDeE]){2,80}2[eE](636f6d|6e6574|6f7267|696f|7275|78797a|746f70|686f7374|636e|6d65|6363|7368|696e666f|7477|7573|6465|756b|6f6e696f6e|6c696e6b|636c7562|617070|646576|6c6f6c|73697465)["'`]/
        $ipv4 = /["'`](3[0-9]){1,3}2[eE](3[0-9]){1,3}2[eE](3[0-9]){1,3}2[eE](3[0-9]){1,3}["'`]/
    condition:
        any of them
}

// What analysis/decoded.py decodes and scans again, each at the places marked here (rules
// of no indicator and no weight: the decoding is done by the engine, not counted here).

rule reversed_literal {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "reverses a literal"
    strings:
        $python = /["'`]\s*\[::-1\]/
        $js = /["'`]\s*\.split\(\s*["'`]{2}\s*\)\s*\.reverse\(\s*\)\s*\.join\(/
    condition:
        any of them
}

rule rot13_literal {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "decodes rot13"
    strings:
        $a = /["']rot_?13["']/ nocase
    condition:
        $a
}

rule escaped_literal {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "spells a literal in escapes"
    strings:
        $a = /["'`](\\x[0-9a-fA-F]{2}|\\u00[0-9a-fA-F]{2}){4}/
    condition:
        $a
}

rule char_code_literal {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "spells a literal in character codes"
    strings:
        $a = /fromCharCode\s*\(\s*\d{1,3}\s*,|\bmap\s*\(\s*chr\s*,\s*[\[(]\s*\d|\bbytes\s*\(\s*\[\s*\d{1,3}\s*,\s*\d{1,3}\s*,|chr\s*\(\s*\d{1,3}\s*\)\s*\+\s*chr\s*\(/
    condition:
        $a
}

rule char_code_decoder {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "decodes names into characters"
    strings:
        // a decoder of names, handed its numbers elsewhere (`def _c(*n): return
        // "".join(map(chr, n))`, `String.fromCharCode(...codes)`, `exec(bytes(self._c)
        // .decode())`): the decoder then reads the file's runs of twelve numbers or more
        $decoder = /\bmap\s*\(\s*chr\s*,\s*[A-Za-z_]|fromCharCode\s*\(\s*\.\.\.|fromCharCode\.apply\s*\(|(\b(exec|eval)\s*|\B\b)\(\s*(bytes|bytearray)\s*\(\s*[A-Za-z_]/
    condition:
        $decoder
}

rule hex_literal {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "decodes hex literals"
    strings:
        // hex decoding, not encoding (`digest('hex')`): the decoder then reads the file's
        // long hex literals
        $js = /Buffer\.from\s*\([^)\n]{1,200},\s*["']hex["']\s*\)|parseInt\s*\([^\n;]{1,80},\s*16\s*\)/
        // a literal longer than the window above: the payload itself, spelled in hex
        $js_literal = /Buffer\.from\s*\(\s*["'][0-9a-fA-F]{200,}["']\s*,\s*["']hex["']/
        $py = /\b(fro|\B\b)mhex\s*\(|\bunhexlify\s*\(|\.decode\s*\(\s*["']hex["']/
    condition:
        any of them
}

rule base64_literal {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "decodes base64 literals"
    strings:
        // base64 decoding: the decoder then reads the file's base64 literals of 40
        // characters or more that decode to text
        $js = /Buffer\.from\s*\([^)\n]{1,200},\s*["']base64["']\s*\)|\batob\s*\(/
        // a literal longer than the window above: the payload itself, in base64
        $js_literal = /Buffer\.from\s*\(\s*["'][A-Za-z0-9+\/]{200,}/
        $py = /\bb64decode\s*\(|\bdecodebytes\s*\(|\ba2b_base64\s*\(/
    condition:
        any of them
}

rule environment_bound_to_name {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "binds the whole environment to a name"
    strings:
        // `const e = process.env`, a parameter's default `(env = process.env)`, `env =
        // dict(os.environ)`: the file is then also read with the environment in place of
        // the name, so that `JSON.stringify(e)` far below is the environment's dump
        $js = /[\w$]\s*=\s*(process\.env\s*[;,)\r\n]|\{\s*\.\.\.\s*process\.env\s*\})|\{\s*env\s*\}\s*=\s*process\b/
        $py = /\w\s*=\s*(dict\s*\(\s*)?os\.environ(\.copy\s*\(\s*\))?\s*\)?\s*[;\r\n]/
    condition:
        any of them
}

rule lookalike_letters {
    meta:
        indicator = ""
        capability = "decoder"
        weight = 0
        label = "spells words in full-width or mathematical letters"
    strings:
        // Python reads identifiers in NFKC form: `ｅｘｅｃ` and `𝐞𝐱𝐞𝐜` are `exec`
        $fullwidth = /(\xef\xbd[\x81-\x9a]|\xef\xbc[\xa1-\xba]){3}/
        $mathematical = /(\xf0\x9d[\x90-\x9f][\x80-\xbf]){3}/
    condition:
        any of them
}
