"""dtpay request signing in Python 3 (the dtpay cashier interface spec's rule: docs/merchant-guide.md, "Signature").

Run: python3 sign.py — prints the signatures of the contract's test vector.
"""
import hashlib
import hmac


def sign(fields, key, sign_type="MD5"):
    """The signature of `fields` (a dict of str) with the merchant key: MD5 or HMAC-SHA256, upper-case hex."""
    names = sorted(n for n, v in fields.items() if n != "signature" and v not in ("", None))  # byte order: ASCII names
    text = "&".join(f"{n}={fields[n]}" for n in names) + f"&key={key}"  # raw values, not URL-encoded
    data = text.encode("utf-8")
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(data).hexdigest().upper()


def verify(fields, key):
    """True when an answer or a notification carries the signature its other fields give with `key`."""
    expected = sign(fields, key, fields.get("signType") or "MD5")
    return hmac.compare_digest(expected, str(fields.get("signature", "")).upper())


KEY = "k3y-For-Tests-0123456789abcdefXYZ"
BODY = {
    "mercNo": "M100000000000001", "mercOrderNo": "D20180315125826", "subject": "测试商品 A&B=C", "body": "",
    "tradeType": "01", "tradeAmt": "0.01", "tradeTime": "20240618125826", "orderPeriod": "30",
    "notifyUrl": "https://shop.example.com/pay/notify", "returnUrl": "https://shop.example.com/pay/done",
    "termType": "wap", "paywayCode": "wxpay", "sceneCode": "scan", "ip": "203.0.113.7", "signType": "MD5",
}

if __name__ == "__main__":
    print("MD5", sign(BODY, KEY))
    print("HMAC-SHA256", sign({**BODY, "signType": "HMAC-SHA256"}, KEY, "HMAC-SHA256"))
    signed = {**BODY, "signature": sign(BODY, KEY)}
    print("verify signed:", str(verify(signed, KEY)).lower())
    print("verify tampered:", str(verify({**signed, "tradeAmt": "100.00"}, KEY)).lower())
