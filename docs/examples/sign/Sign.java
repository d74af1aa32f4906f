// dtpay request signing in Java 11 or later (the dtpay cashier interface spec's rule: docs/merchant-guide.md, "Signature").
// Run: java Sign.java — prints the signatures of the contract's test vector.
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import java.util.StringJoiner;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Sign {
    /** The signature of {@code fields} with the merchant key: MD5 or HMAC-SHA256, upper-case hex. */
    public static String sign(Map<String, String> fields, String key, String signType) throws Exception {
        // TreeMap sorts by String.compareTo, which is byte order for the ASCII field names.
        StringJoiner text = new StringJoiner("&");
        for (Map.Entry<String, String> e : new TreeMap<>(fields).entrySet()) {
            if (e.getKey().equals("signature") || e.getValue() == null || e.getValue().isEmpty()) continue;
            text.add(e.getKey() + "=" + e.getValue()); // raw values, not URL-encoded
        }
        byte[] data = (text + "&key=" + key).getBytes(StandardCharsets.UTF_8);
        byte[] digest;
        if ("HMAC-SHA256".equals(signType)) {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            digest = mac.doFinal(data);
        } else {
            digest = MessageDigest.getInstance("MD5").digest(data);
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : digest) hex.append(String.format("%02X", b));
        return hex.toString();
    }

    /** True when an answer or a notification carries the signature its other fields give with {@code key}. */
    public static boolean verify(Map<String, String> fields, String key) throws Exception {
        String signType = fields.getOrDefault("signType", "");
        String expected = sign(fields, key, signType.isEmpty() ? "MD5" : signType);
        String given = fields.getOrDefault("signature", "").toUpperCase();
        return MessageDigest.isEqual(expected.getBytes(StandardCharsets.UTF_8), given.getBytes(StandardCharsets.UTF_8));
    }

    public static void main(String[] args) throws Exception {
        String key = "k3y-For-Tests-0123456789abcdefXYZ";
        Map<String, String> body = new HashMap<>();
        body.put("mercNo", "M100000000000001");
        body.put("mercOrderNo", "D20180315125826");
        body.put("subject", "\u6d4b\u8bd5\u5546\u54c1 A&B=C"); // 测试商品 A&B=C
        body.put("body", "");
        body.put("tradeType", "01");
        body.put("tradeAmt", "0.01");
        body.put("tradeTime", "20240618125826");
        body.put("orderPeriod", "30");
        body.put("notifyUrl", "https://shop.example.com/pay/notify");
        body.put("returnUrl", "https://shop.example.com/pay/done");
        body.put("termType", "wap");
        body.put("paywayCode", "wxpay");
        body.put("sceneCode", "scan");
        body.put("ip", "203.0.113.7");
        body.put("signType", "MD5");
        System.out.println("MD5 " + sign(body, key, "MD5"));
        Map<String, String> hmacBody = new HashMap<>(body);
        hmacBody.put("signType", "HMAC-SHA256");
        System.out.println("HMAC-SHA256 " + sign(hmacBody, key, "HMAC-SHA256"));
        Map<String, String> signed = new HashMap<>(body);
        signed.put("signature", sign(body, key, "MD5"));
        System.out.println("verify signed: " + verify(signed, key));
        signed.put("tradeAmt", "100.00");
        System.out.println("verify tampered: " + verify(signed, key));
    }
}
