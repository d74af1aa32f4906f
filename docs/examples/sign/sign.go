// dtpay request signing in Go (the dtpay cashier interface spec's rule: docs/merchant-guide.md, "Signature").
// Run: go run sign.go — prints the signatures of the contract's test vector.
package main

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Sign returns the signature of fields with the merchant key: MD5 or HMAC-SHA256, upper-case hex.
func Sign(fields map[string]string, key, signType string) string {
	names := make([]string, 0, len(fields))
	for name, value := range fields {
		if name != "signature" && value != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names) // byte order
	pairs := make([]string, len(names))
	for i, name := range names {
		pairs[i] = name + "=" + fields[name] // raw values, not URL-encoded
	}
	text := []byte(strings.Join(pairs, "&") + "&key=" + key)
	var sum []byte
	if signType == "HMAC-SHA256" {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(text)
		sum = mac.Sum(nil)
	} else {
		digest := md5.Sum(text)
		sum = digest[:]
	}
	return strings.ToUpper(hex.EncodeToString(sum))
}

// Verify reports whether an answer or a notification carries the signature its other fields give with key.
func Verify(fields map[string]string, key string) bool {
	signType := fields["signType"]
	if signType == "" {
		signType = "MD5"
	}
	return hmac.Equal([]byte(Sign(fields, key, signType)), []byte(strings.ToUpper(fields["signature"])))
}

func main() {
	key := "k3y-For-Tests-0123456789abcdefXYZ"
	body := map[string]string{
		"mercNo": "M100000000000001", "mercOrderNo": "D20180315125826", "subject": "测试商品 A&B=C", "body": "",
		"tradeType": "01", "tradeAmt": "0.01", "tradeTime": "20240618125826", "orderPeriod": "30",
		"notifyUrl": "https://shop.example.com/pay/notify", "returnUrl": "https://shop.example.com/pay/done",
		"termType": "wap", "paywayCode": "wxpay", "sceneCode": "scan", "ip": "203.0.113.7", "signType": "MD5",
	}
	with := func(m map[string]string, k, v string) map[string]string {
		c := make(map[string]string, len(m)+1)
		for a, b := range m {
			c[a] = b
		}
		c[k] = v
		return c
	}
	fmt.Println("MD5", Sign(body, key, "MD5"))
	fmt.Println("HMAC-SHA256", Sign(with(body, "signType", "HMAC-SHA256"), key, "HMAC-SHA256"))
	signed := with(body, "signature", Sign(body, key, "MD5"))
	fmt.Println("verify signed:", Verify(signed, key))
	fmt.Println("verify tampered:", Verify(with(signed, "tradeAmt", "100.00"), key))
}
