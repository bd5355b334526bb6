// The canonical form of Samsung's Knox verifier (readValue(body, HashMap.class), then
// writeValueAsString), as an oracle for tests/jackson_oracle.rs. One JVM answers many bodies:
// each stdin line is a base64 body; each stdout line is "C <base64 canonical UTF-8>" or
// "E <exception class>" when Jackson rejects the body. Test-only; never shipped.
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;

public class KnoxCanonical {
    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            try {
                byte[] body = Base64.getDecoder().decode(line);
                HashMap<?, ?> map = mapper.readValue(body, HashMap.class);
                byte[] canonical = mapper.writeValueAsString(map).getBytes(StandardCharsets.UTF_8);
                System.out.println("C " + Base64.getEncoder().encodeToString(canonical));
            } catch (Exception e) {
                System.out.println("E " + e.getClass().getName());
            }
            System.out.flush();
        }
    }
}
