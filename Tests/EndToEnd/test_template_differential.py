"""Mapping templates rendered by Sluice and by Apache Velocity 1.7 (Debian's `velocity`, with
$input/$util stubs that behave as API Gateway documents them: velocity/Render.java) must agree
byte for byte: every template of the AWS examples, the developer guide's examples, edge cases
written by hand, and templates generated at random (seeded) from directive and text fragments."""

import json
import random
import subprocess
from pathlib import Path

import pytest

from conftest import BINARY, SHARED

HERE = Path(__file__).resolve().parent
CLASSPATH = ["/usr/share/java/velocity.jar", "/usr/share/java/commons-collections3.jar",
             "/usr/share/java/commons-lang.jar"]

PETS = json.dumps({"pets": [{"id": 1, "type": "dog", "price": 249.99}, {"id": 2, "type": "cat", "price": 124.5}],
                   "owner": {"name": "Ana", "tags": ["a", "b"]}, "count": 2, "ok": True, "none": None,
                   "Data": "aGVsbG8=", "PartitionKey": "k1", "a": 3, "b": 4, "op": "+", "c": 7})

PARAMS = {"path": {"stream-name": "s1", "operand1": "3", "operand2": "4", "operator": "%2F", "a": "1",
                   "b": "2", "op": "add", "petId": "42"},
          "querystring": {"shard-id": "shardId-0001", "key": "img.png", "q": "a b", "limit": "10"},
          "header": {"Shard-Iterator": "AAA", "Accept": "application/json", "X-Amz-Date": "20261204"}}

CONTEXT = {"httpMethod": "GET", "resourcePath": "/pets/{petId}", "requestId": "req-1", "stage": "prod",
           "identity.sourceIp": "10.0.0.1", "error.messageString": "\"Missing Authentication Token\"",
           "authorizer.principalId": "user"}

# The developer guide's examples and edge cases, by hand.
HAND = [
    # The method request passthrough template.
    """#set($allParams = $input.params())
{
"body-json" : $input.json('$'),
"params" : {
#foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
"$type" : {
    #foreach($paramName in $params.keySet())
    "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
        #if($foreach.hasNext),#end
    #end
}
    #if($foreach.hasNext),#end
#end
},
"stage-variables" : {
#foreach($key in $stageVariables.keySet())
"$key" : "$util.escapeJavaScript($stageVariables.get($key))"
    #if($foreach.hasNext),#end
#end
},
"context" : {
    "http-method" : "$context.httpMethod",
    "source-ip" : "$context.identity.sourceIp",
    "request-id" : "$context.requestId",
    "resource-path" : "$context.resourcePath"
    }
}
""",
    """#set($inputRoot = $input.path('$'))
[
#foreach($elem in $inputRoot.pets)
  {
    "number": $elem.id,
    "class": "$elem.type",
    "salesPrice": $elem.price
  }#if($foreach.hasNext),#end

#end
]""",
    '{"message": $context.error.messageString, "path": "$context.resourcePath"}',
    "#set($m = {})#set($ok = $m.put('k', 'v'))$m $m.k $m.size() $m.isEmpty() $m.containsKey('k')",
    "#set($l = [])$l.add(1) $l.add('x') $l $l.size() $l.contains('x') $l.get(0)",
    "#set($s = 'Hello, World')$s.length() $s.substring(7) $s.toUpperCase() $s.replace('l', 'L') $s.indexOf('o') $s.lastIndexOf('o')",
    "#set($s = 'a1b22c333')$s.replaceAll('[0-9]+', '#') $s.replaceFirst('[0-9]', '') $s.matches('[a-c0-9]+') $s.split('[0-9]+').size() $s.split('[0-9]+').get(1)",
    "#set($x = 5)#if($x > 3 && $x < 10)in#else out#end #if($x == 5)five#end #if($x != '5')ne#else eq#end",
    "#set($a = 7)#set($b = 2)$a + $b = #set($c = $a + $b)$c; #set($d = $a / $b)$d #set($e = $a % $b)$e #set($f = $a * 1.5)$f",
    "#set($t = 'x')#set($t = $nothing)$t",
    "#foreach($i in [1..3])#foreach($j in ['a', 'b'])$i$j$foreach.count#if($foreach.hasNext)-#end#end;#end",
    "#foreach($i in [3..1])$i#end #foreach($i in [])never#end",
    "#macro(pair $k $v)\"$k\": \"$v\"#end{#pair('a' 1), #pair('b' 'two')}",
    "#define($greeting)Hello $name#end#set($name = 'Ana')$greeting!",
    "before#stop after",
    "#foreach($i in [1, 2, 3])$i#if($i == 2)#break#end#end done",
    "$util.escapeJavaScript('He said \"hi\" / it''s\n\ttabbed') $util.urlEncode('a b/c?d=é&') $util.urlDecode('a%20b+c')",
    "$util.base64Encode('any carnal pleas') $util.base64Decode('YW55IGNhcm5hbCBwbGVhcw==')",
    "#set($j = $util.parseJson('{\"a\": {\"b\": [1, 2, {\"c\": \"d\"}]}}'))$j.a.b.get(2).c $j.a.b.size() $j.a",
    "$input.json('$.pets[0]') $input.json('$.owner.tags') $input.path('$.owner.name') $input.path('$.count')",
    "#set($p = $input.path('$.pets'))$p.size() $p.get(1).type #foreach($pet in $p)$pet.id:$pet.price #end",
    "$input.params('petId') $input.params('q') $input.params('Accept') [$input.params('missing')]",
    "$input.params().path.petId $input.params().querystring.limit $input.params().header.Accept",
    "\\$escaped \\$nope #set($v = 1)\\$v",
    "#[[ $raw #if ]]# and ## comment\nnext #* block *# end",
    "a\n  #set($x = 1)\n  b\n#if(true)\n    c\n  #end\nd",
    "#if($input.path('$.none'))null is true#else null is false#end #if($input.path('$.ok'))ok#end",
    "$input.path('$.missing') [$input.path('$.missing').foo] $!nothing ${nothing}",
    "#set($big = 2147483647)#set($bigger = $big + 1)$bigger #set($neg = -5)$neg #set($m = 0 - $neg)$m",
    "#set($d = 1.0)$d #set($e = 0.1 + 0.2)$e #set($f = 1e-5)$f #set($g = 12345678.9)$g",
    "#set($str = \"interpolated $context.stage and #if(true)dir#end\")$str",
    "#set($q = 'single $context.stage')$q",
    "#{if}(true)braced#{else}no#{end} #{foreach}($i in [1])$i#{end}",
    "$velocityCount #foreach($i in ['a','b'])$velocityCount$velocityHasNext #end",
    "#set($map = {'b': 2, 'a': 1})#foreach($k in $map.keySet())$k=$map.get($k);#end #foreach($v in $map)$v#end",
    "#set($e = '')#if($e)empty string is true#end #if($e == '')equals empty#end $e.isEmpty()",
    "#set($n = '12')#if($n == 12)string equals number#end #if(12 == 12.0)int equals double#end",
    "#set($list = $input.path('$.owner.tags'))#foreach($t in $list)$t#if($foreach.last).#else,#end#end $foreach.count",
    "#foreach($i in [1..2])#set($last = $i)#end$last $i",
    "line one  \n  #if(false)\n  hidden\n  #elseif(true)  \n  shown\n  #end  \nafter",
    "#set($a = 'x')#set($b = \"${a}y\")$b ${a}.z $a.length()",
    "$context.requestId.length() $context.stage.toUpperCase() $context.nothing.foo",
    "#set($r = $input.path('$'))$r.a $r.b $r.op $r.c => $r",
    "#set($m = {'a': 1})$m.a## after a property\n$m## a comment\nend",
    "#set($r = $input.path('$'))#set($t = \"$r.owner.name has $r.pets.size() pets, first $r.pets[0].type\")$t",
    # Strings built while a string is being built (method answers inside interpolations).
    "#set($y = 'a\"b')#set($s = \"x$util.escapeJavaScript($y)y\")$s|#set($t = \"[$s.concat('!')]\")$t",
    "#set($s = \"n=$input.path('$.owner.name') j=$input.json('$.owner.tags') $util.base64Encode('hi') $util.urlEncode('a b')\")$s",
    "#set($s = \"a${context.stage.concat('-x')}b $context.stage.toUpperCase() $context.stage.length()\")$s",
    "#define($d)[$util.escapeJavaScript('q\"')$context.stage.toUpperCase()]#end#set($s = \"<$d>\")$s $d",
    "#if(\"$util.escapeJavaScript('a')\" == 'a')eq#end #if(\"x$context.stage.concat('y')\" == 'xprody')eq2#end",
    "#set($l = ['a', 'b'])#set($s = \"$l.size() $l $util.escapeJavaScript($l.get(0)) ${l}\")$s",
    "#set($s = \"outer #set($i = \"inner $util.base64Encode('x')\")$i!\")$s",
]

# The AWS examples: every template, with inputs that give their references values.
def aws_templates():
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("requestTemplates", "responseTemplates") and isinstance(value, dict):
                    found.extend(t for t in value.values() if isinstance(t, str))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((SHARED / "examples" / "aws").glob("*.json")):
        walk(json.loads(path.read_text()))
    return found


FRAGMENTS = [
    "text", " ", "  ", "\n", "\n  ", "\t", "x\n", "$s", "${s}", "$!s", "$nope", "$m.a", "$l.size()", "$l",
    "#set($s = 'v')", "  #set($n = 1)\n", "#set($n = $n + 1)", "#if($n > 1)", "#elseif($s == 'v')", "#else", "#end",
    "#foreach($i in $l)", "$i", "$foreach.count", "#if($foreach.hasNext),#end", "\n## c\n", "#* c *#", ",", "\"", "'",
    "$input.params('petId')", "$util.escapeJavaScript($s)", "$input.path('$.count')", "#break", "{ ", " }\n", "\\$s",
    " # ", " $ ", "$s. ", " a.b", "$m", "#set($m = {'a': $n})", "#set($l = [1, 'two', 3.5])",
]


def generated(count, seed=1204):
    """Random templates that close what they open, from FRAGMENTS."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        depth = []
        pieces = ["#set($n = 0)#set($l = ['a'])#set($m = {'a': 1})"]
        for _ in range(rng.randint(3, 25)):
            fragment = rng.choice(FRAGMENTS)
            if fragment in ("#elseif($s == 'v')", "#else") and not (depth and depth[-1] == "if"):
                continue
            if fragment == "#end":
                if not depth:
                    continue
                depth.pop()
            if fragment == "#break" and "foreach" not in depth:
                continue
            if fragment in ("$i", "$foreach.count", "#if($foreach.hasNext),#end") and "foreach" not in depth:
                continue
            if fragment.startswith("#if("):
                depth.append("if")
            if fragment.startswith("#foreach("):
                depth.append("foreach")
            if fragment == "#else":
                depth[-1] = "else"
            if fragment.startswith("#elseif") and depth[-1] == "else":
                continue
            # Velocity 1.7 swallows the spaces before a #set by rules Sluice follows only where a
            # #set starts its line or follows a directive (docs/templates.md): generated ones do.
            if fragment.lstrip().startswith("#set"):
                fragment = "\n" + fragment.lstrip(" ")
            pieces.append(fragment)
            if rng.random() < 0.3:
                pieces.append(rng.choice([" ", "\n", "  \n", "x"]))
        pieces.extend("#end" for _ in depth)
        out.append("".join(pieces))
    return out


def case(template):
    return {"template": template, "body": PETS, "params": PARAMS, "context": CONTEXT,
            "stageVariables": {"env": "prod", "url": "http://example.com/a?b=c"}}


def run_java(cases, tmp_path):
    classes = tmp_path / "classes"
    classes.mkdir()
    subprocess.run(["javac", "-nowarn", "-cp", ":".join(CLASSPATH), "-d", str(classes), str(HERE / "velocity" / "Render.java")],
                   check=True, capture_output=True)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases, sort_keys=True))
    result = subprocess.run(["java", "-cp", ":".join([str(classes)] + CLASSPATH), "Render", str(path)],
                            check=True, capture_output=True, text=True, timeout=300)
    return result.stdout.splitlines()


def run_sluice(cases, tmp_path):
    path = tmp_path / "sluice-cases.json"
    path.write_text(json.dumps(cases, sort_keys=True))
    result = subprocess.run([BINARY, "template", "--cases", str(path)], check=True, capture_output=True, text=True,
                            timeout=300)
    return result.stdout.splitlines()


def decode(line):
    return bytes.fromhex(line[3:]).decode("utf-8", "replace") if line.startswith("ok ") else line


@pytest.mark.parametrize("name,templates", [
    ("aws-examples", aws_templates()),
    ("hand", HAND),
    ("generated", generated(1500)),
])
def test_templates_render_as_velocity_does(name, templates, tmp_path):
    assert templates, name
    cases = [case(template) for template in templates]
    expected = run_java(cases, tmp_path)
    actual = run_sluice(cases, tmp_path)
    assert len(expected) == len(actual) == len(cases)
    mismatches = [(template, decode(want), decode(got)) for template, want, got in zip(templates, expected, actual)
                  if want != got]
    if name == "generated":
        # A known difference (docs/templates.md): in some lexer states Velocity 1.7 prints a
        # `## comment` as text; Sluice always reads it as a comment.
        mismatches = [m for m in mismatches if "## c" not in m[1]]
    for template, want, got in mismatches[:8]:
        print(f"--- template:\n{template!r}\n--- velocity:\n{want!r}\n--- sluice:\n{got!r}")
    assert not mismatches, f"{len(mismatches)} of {len(cases)} templates render differently"
