// Samsung's reference Knox verifier (protocols.md §1.3) as a long-lived test oracle for
// tests/it/jackson_oracle.rs: one JVM answers thousands of cases. Test-only; never shipped.
//
// Each stdin line is one command, fields separated by single spaces, binary fields in
// standard base64; each command gets exactly one stdout line:
//   C <body>                 -> "OK <canonical UTF-8 bytes>" | "ERR <exception class>"
//   V <body> <header> <cert> -> "VALID" | "INVALID" | "PARTS <n>" | "ERR <exception class>"
//   I                        -> "<java.specification.version> <Jackson databind version>"
// where <header> is the X-WSM-SIGNATURE value (UTF-8) and <cert> the certificate's DER.
// `C` is steps 2-3 of the verifier, `V` all of it, both exactly as Samsung's sample does them.
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.HashMap;

public class KnoxOracle {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** What the verifier signs: Jackson's re-serialization of the body as a HashMap. */
    static String canonical(byte[] body) throws Exception {
        HashMap<?, ?> map = MAPPER.readValue(body, HashMap.class);
        return MAPPER.writeValueAsString(map);
    }

    static String verify(byte[] body, String header, byte[] certDer) throws Exception {
        String[] parts = header.split("\\.");
        if (parts.length != 3) {
            return "PARTS " + parts.length;
        }
        X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(certDer));
        String b64 = Base64.getUrlEncoder().encodeToString(canonical(body).getBytes(StandardCharsets.UTF_8));
        Signature verifier = Signature.getInstance("SHA256withRSA");
        verifier.initVerify(cert.getPublicKey());
        verifier.update((parts[0] + "." + b64).getBytes(StandardCharsets.UTF_8));
        return verifier.verify(Base64.getUrlDecoder().decode(parts[2])) ? "VALID" : "INVALID";
    }

    /** Debian's jackson-core 2.14.1-2~deb12u1 backports these limits; 2.14.1-1 lacks them. */
    static String hasStreamReadConstraints() {
        try {
            Class.forName("com.fasterxml.jackson.core.StreamReadConstraints");
            return "constraints";
        } catch (ClassNotFoundException e) {
            return "no-constraints";
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.US_ASCII);
        Base64.Decoder b64 = Base64.getDecoder();
        String line;
        while ((line = in.readLine()) != null) {
            String[] fields = line.split(" ", -1);
            String answer;
            try {
                switch (fields[0]) {
                    case "C":
                        answer = "OK " + Base64.getEncoder().encodeToString(
                            canonical(b64.decode(fields[1])).getBytes(StandardCharsets.UTF_8));
                        break;
                    case "V":
                        answer = verify(b64.decode(fields[1]),
                            new String(b64.decode(fields[2]), StandardCharsets.UTF_8), b64.decode(fields[3]));
                        break;
                    case "I":
                        answer = System.getProperty("java.specification.version") + " "
                            + com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION + " "
                            + hasStreamReadConstraints();
                        break;
                    default:
                        answer = "BAD-COMMAND";
                }
            } catch (Exception | StackOverflowError e) {
                answer = "ERR " + e.getClass().getName();
            }
            out.println(answer);
            out.flush();
        }
    }
}
