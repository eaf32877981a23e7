// The reference side of the template differential test: renders mapping templates with Apache
// Velocity 1.7 (Debian's `velocity`), with $input, $util, $context and $stageVariables stubs that
// behave as API Gateway documents them. Reads cases (a JSON array of objects: template, body,
// params {path, querystring, header}, context, stageVariables) from the file named by its
// argument; prints one line per case: "ok " + the output, or "error", the output's bytes as hex.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.app.event.EventCartridge;
import org.apache.velocity.app.event.ReferenceInsertionEventHandler;

public class Render {
    // A minimal JSON reader: objects as LinkedHashMap, arrays as ArrayList, numbers as Integer,
    // Long or Double (as json-smart, which API Gateway's JSONPath uses, gives them).
    static final class Json {
        final String s; int i;
        Json(String s) { this.s = s; }
        static Object parse(String text) {
            Json j = new Json(text); j.ws(); Object v = j.value(); j.ws();
            if (j.i != j.s.length()) throw new IllegalArgumentException("trailing");
            return v;
        }
        void ws() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; }
        Object value() {
            char c = s.charAt(i);
            if (c == '{') {
                i++; Map<String, Object> m = new LinkedHashMap<>(); ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) { ws(); String k = str(); ws(); i++; ws(); m.put(k, value()); ws();
                    if (s.charAt(i++) == '}') return m; }
            }
            if (c == '[') {
                i++; List<Object> l = new ArrayList<>(); ws();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) { ws(); l.add(value()); ws(); if (s.charAt(i++) == ']') return l; }
            }
            if (c == '"') return str();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String n = s.substring(start, i);
            if (n.contains(".") || n.contains("e") || n.contains("E")) return Double.valueOf(n);
            long l = Long.parseLong(n);
            if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return (int) l;
            return l;
        }
        String str() {
            StringBuilder b = new StringBuilder(); i++;
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': b.append('\n'); break; case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break; case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: b.append(e);
                }
            }
        }
        static String write(Object v) {
            StringBuilder b = new StringBuilder(); write(v, b); return b.toString();
        }
        static void write(Object v, StringBuilder b) {
            if (v == null) { b.append("null"); return; }
            if (v instanceof Map) {
                b.append('{'); boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    if (!first) b.append(','); first = false;
                    quote(String.valueOf(e.getKey()), b); b.append(':'); write(e.getValue(), b);
                }
                b.append('}'); return;
            }
            if (v instanceof List) {
                b.append('['); boolean first = true;
                for (Object o : (List<?>) v) { if (!first) b.append(','); first = false; write(o, b); }
                b.append(']'); return;
            }
            if (v instanceof String) { quote((String) v, b); return; }
            b.append(v);
        }
        static void quote(String s, StringBuilder b) {
            b.append('"');
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"': b.append("\\\""); break; case '\\': b.append("\\\\"); break;
                    case '\n': b.append("\\n"); break; case '\r': b.append("\\r"); break;
                    case '\t': b.append("\\t"); break; case '\b': b.append("\\b"); break;
                    case '\f': b.append("\\f"); break;
                    default:
                        if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
                }
            }
            b.append('"');
        }
        // $.a.b[0]['c'] on a parsed value; null when a step is missing.
        static Object path(Object root, String path) {
            if (!path.startsWith("$")) return null;
            Object v = root; int i = 1;
            while (i < path.length() && v != null) {
                char c = path.charAt(i);
                if (c == '.') {
                    int j = i + 1; while (j < path.length() && path.charAt(j) != '.' && path.charAt(j) != '[') j++;
                    String k = path.substring(i + 1, j); i = j;
                    v = v instanceof Map ? ((Map<?, ?>) v).get(k) : null;
                } else if (c == '[') {
                    int j = path.indexOf(']', i); String k = path.substring(i + 1, j); i = j + 1;
                    if (k.startsWith("'")) { k = k.substring(1, k.length() - 1); v = v instanceof Map ? ((Map<?, ?>) v).get(k) : null; }
                    else { int n = Integer.parseInt(k); v = v instanceof List && n < ((List<?>) v).size() ? ((List<?>) v).get(n) : null; }
                } else return null;
            }
            return v;
        }
    }

    public static final class Input {
        final String body; final Map<String, Map<String, String>> params;
        Input(String body, Map<String, Map<String, String>> params) { this.body = body; this.params = params; }
        public String getBody() { return body; }
        Object root() { try { return Json.parse(body); } catch (RuntimeException e) { return null; } }
        public Object path(String p) { return Json.path(root(), p); }
        public String json(String p) { Object v = Json.path(root(), p); return Json.write(v); }
        public Map<String, Map<String, String>> params() { return params; }
        public String params(String name) {
            for (String kind : new String[] {"path", "querystring", "header"}) {
                Map<String, String> m = params.get(kind);
                if (m != null && m.containsKey(name)) return m.get(name);
            }
            return "";
        }
    }

    // $util's functions: null in, null out (Sluice's choice, docs/templates.md).
    public static final class Util {
        public String escapeJavaScript(String s) {
            return org.apache.commons.lang.StringEscapeUtils.escapeJavaScript(s);
        }
        public Object parseJson(String s) { return s == null ? null : Json.parse(s); }
        public String urlEncode(String s) throws Exception { return s == null ? null : java.net.URLEncoder.encode(s, "UTF-8"); }
        public String urlDecode(String s) throws Exception { return s == null ? null : java.net.URLDecoder.decode(s, "UTF-8"); }
        public String base64Encode(String s) {
            if (s == null) return null;
            return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
        }
        public String base64Decode(String s) {
            if (s == null) return null;
            return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
        }
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        String text = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        List<Object> cases = (List<Object>) Json.parse(text);
        Properties p = new Properties();
        p.setProperty("runtime.log.logsystem.class", "org.apache.velocity.runtime.log.NullLogChute");
        p.setProperty("directive.foreach.maxloops", "1000");
        // Each template is a template of its own: a macro one defines is not another's.
        p.setProperty("velocimacro.permissions.allow.inline.local.scope", "true");
        VelocityEngine engine = new VelocityEngine(p);
        engine.init();
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        for (Object c : cases) {
            Map<String, Object> m = (Map<String, Object>) c;
            Map<String, Map<String, String>> params = new LinkedHashMap<>();
            Map<String, Object> given = (Map<String, Object>) m.getOrDefault("params", new LinkedHashMap<>());
            for (String kind : new String[] {"path", "querystring", "header"}) {
                Map<String, String> values = new LinkedHashMap<>();
                Map<String, Object> g = (Map<String, Object>) given.getOrDefault(kind, new LinkedHashMap<>());
                for (Map.Entry<String, Object> e : g.entrySet()) values.put(e.getKey(), String.valueOf(e.getValue()));
                params.put(kind, values);
            }
            VelocityContext context = new VelocityContext();
            context.put("input", new Input((String) m.getOrDefault("body", ""), params));
            context.put("util", new Util());
            // $context.identity.sourceIp: the dotted names given become nested maps.
            Map<String, Object> contextMap = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : ((Map<String, Object>) m.getOrDefault("context", new LinkedHashMap<>())).entrySet()) {
                String[] parts = e.getKey().split("\\.");
                Map<String, Object> level = contextMap;
                for (int i = 0; i < parts.length - 1; i++) {
                    level = (Map<String, Object>) level.computeIfAbsent(parts[i], k -> new LinkedHashMap<String, Object>());
                }
                level.put(parts[parts.length - 1], e.getValue());
            }
            context.put("context", contextMap);
            context.put("stageVariables", m.getOrDefault("stageVariables", new LinkedHashMap<>()));
            // API Gateway renders a null reference as nothing, not as its source text.
            EventCartridge cartridge = new EventCartridge();
            cartridge.addEventHandler((ReferenceInsertionEventHandler) (reference, value) -> value == null ? "" : value);
            cartridge.attachToContext(context);
            StringWriter writer = new StringWriter();
            try {
                engine.evaluate(context, writer, "template", (String) m.get("template"));
                StringBuilder hex = new StringBuilder("ok ");
                for (byte b : writer.toString().getBytes(StandardCharsets.UTF_8)) hex.append(String.format("%02x", b));
                out.println(hex);
            } catch (Exception e) {
                out.println("error");
            }
        }
    }
}
