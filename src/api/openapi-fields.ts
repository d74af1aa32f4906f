import { z } from 'zod';
import { PAY_STATUSES, STATUS_NAMES } from '../domain/order-states.js';

// Field types shared by the answers and the notifications the OpenAPI document describes.

export const text = z.string();
export const yuan = z.string().describe('yuan with two decimals');
export const beijingTime = z.string().describe('Beijing time (UTC+8), yyyyMMddHHmmss');
export const payStatus = z.enum(PAY_STATUSES as [string, ...string[]]).describe(PAY_STATUSES.map((s) => `${s} ${STATUS_NAMES[s]}`).join(', '));
export const signType = z.enum(['MD5', 'HMAC-SHA256']);
