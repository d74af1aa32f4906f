<?php
// dtpay request signing in PHP 7.4 or later (the dtpay cashier interface spec's rule: docs/merchant-guide.md, "Signature").
// Run: php sign.php — prints the signatures of the contract's test vector.

/** The signature of $fields (an array of strings) with the merchant key: MD5 or HMAC-SHA256, upper-case hex. */
function dtpay_sign(array $fields, string $key, string $signType = 'MD5'): string
{
    unset($fields['signature']);
    $fields = array_filter($fields, fn ($v) => $v !== '' && $v !== null);
    ksort($fields, SORT_STRING); // byte order
    $pairs = [];
    foreach ($fields as $name => $value) {
        $pairs[] = $name . '=' . $value; // raw values, not URL-encoded
    }
    $text = implode('&', $pairs) . '&key=' . $key;
    $hex = $signType === 'HMAC-SHA256' ? hash_hmac('sha256', $text, $key) : md5($text);
    return strtoupper($hex);
}

/** True when an answer or a notification carries the signature its other fields give with $key. */
function dtpay_verify(array $fields, string $key): bool
{
    $expected = dtpay_sign($fields, $key, ($fields['signType'] ?? '') !== '' ? $fields['signType'] : 'MD5');
    return hash_equals($expected, strtoupper((string) ($fields['signature'] ?? '')));
}

if (realpath($argv[0] ?? '') === __FILE__) {
    $key = 'k3y-For-Tests-0123456789abcdefXYZ';
    $body = [
        'mercNo' => 'M100000000000001', 'mercOrderNo' => 'D20180315125826', 'subject' => '测试商品 A&B=C', 'body' => '',
        'tradeType' => '01', 'tradeAmt' => '0.01', 'tradeTime' => '20240618125826', 'orderPeriod' => '30',
        'notifyUrl' => 'https://shop.example.com/pay/notify', 'returnUrl' => 'https://shop.example.com/pay/done',
        'termType' => 'wap', 'paywayCode' => 'wxpay', 'sceneCode' => 'scan', 'ip' => '203.0.113.7', 'signType' => 'MD5',
    ];
    echo 'MD5 ', dtpay_sign($body, $key), "\n";
    echo 'HMAC-SHA256 ', dtpay_sign(['signType' => 'HMAC-SHA256'] + $body, $key, 'HMAC-SHA256'), "\n";
    $signed = $body + ['signature' => dtpay_sign($body, $key)];
    echo 'verify signed: ', dtpay_verify($signed, $key) ? 'true' : 'false', "\n";
    echo 'verify tampered: ', dtpay_verify(['tradeAmt' => '100.00'] + $signed, $key) ? 'true' : 'false', "\n";
}
