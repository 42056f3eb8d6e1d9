"""The language of problem statements: which words state a deficiency, and which sentence kinds
look like findings but are not (requirements, 表态, background, praise, actions taken, list headers,
statistics).

Kept apart from the splitter (``nlp/findings.py``) because it is data a reviewer should be able to
read and extend in one place; the splitter only decides where items start and end.
"""

from __future__ import annotations

import re

# Words that state a deficiency. Kept as data here (not scattered through code) so they can be reviewed.
PROBLEM_CUE = re.compile(
    r"不到位|不够|不足|不力|不严|不实|不规范|不健全|不完善|不充分|不明显|不高|不强|不深|不细|不准|不及时|不合理|"
    r"不科学|不扎实|不落实|不彻底|不全面|不清|不当|不一致|不担当|不作为|不精准|不对|不符|不透明|不公开|不公|"
    r"不到账|不匹配|不畅|不佳|不良|不主动|不紧密|不突出|不高效|不明确|不准确|不规则|不认真|不重视|不作|"
    r"有差距|有欠缺|有偏差|差距较大|欠缺|薄弱|淡薄|淡化|弱化|虚化|泛化|缺失|缺位|缺乏|缺少|走过场|走形式|"
    r"违规|违反|违纪|违法|违背|屡禁不止|屡查屡犯|打折扣|搞变通|盲目|未达预期|未能|未按|未经|未及时|未严格|未落实|"
    r"未建立|未执行|未开展|未完成|未整改|未有效|未全面|未如实|未足额|未公开|未履行|未设立|未纳入|未定期|未召开|"
    r"未对|未将|未向|未实行|未进行|未做到|未组织|未认真|未制定|未报|未签订|没有|尚未|仍未|较多|(?:问题|矛盾|现象)[^。；]{0,6}突出|"
    r"严重|易发多发|多发|频发|高发|不统一|过多|过频|过滥|负担(?:较|过)重|明显(?:低于|高于)|低于[^。；]{0,8}(?:市场|标准)|代替|脱节|填表式|留痕式|"
    r"账实不符|以陈顶新|压级压价|重复报销|串换|虚记|多头跑|失职|失责|失察|失管|失控|滥用|侵占|挪用|挤占|套取|骗取|截留|克扣|虚报|冒领|优亲厚友|吃拿卡要|"
    r"流于形式|形式主义|官僚主义|享乐主义|奢靡|大操大办|造成[^。；]{0,12}(?:损失|浪费)|浪费|漏洞|短板|"
    r"存在[^。；]{0,14}(?:风险|隐患)|欠账|超标准|超范围|超标|超期|擅自|随意|混乱|滞后|缓慢|偏差|温差落差|软弱涣散|"
    r"(?:问题|现象|情况)(?:依然|仍然|依旧|还)?存在|依然存在|仍然存在|仍有|有待(?:提高|加强|夯实|提升|改进|规范|完善)|"
    r"亟待|亟需|乏力|松懈|松弛|懈怠|敷衍|应付|打擦边球|以权谋私|利益输送|收受|吃空饷|白条|坐收坐支|体外循环|账外|"
    r"小金库|公车私用|不正之风|庸懒散|推诿|扯皮|抓得不实|落的不实|认定不准|偏软|偏松|偏弱|偏宽|失之于宽|宽松软|"
    r"存在[^。；]{0,30}(?:问题|现象|情况|短板|漏洞|不足|差距|弱项|盲区|空白|薄弱环节)|还有差距|不够到位|"
    r"偏低|偏少|过低|过少|较低|浅表化|表面化|形式化|空心化|边缘化|碎片化|"
    r"文山会海|层层加码|一刀切|痕迹管理|重留痕|重形式|重痕迹|重业务轻党建|以会议落实会议|以文件落实文件|"
    r"规避|化整为零|围标|串标|明招暗定|先建后招|未批先建|虚列|虚增|虚开|以拨代支|超预算|超概算|违建|私设|私分|"
    r"兼职取酬|吃喝|送礼|公款|搭车|借机|插手|干预|垄断|霸占|强占|侵害|损害群众|"
    r"弄虚作假|虚假|失信|隐瞒|瞒报|迟报|漏报|拖欠|拖延|长期闲置|闲置|流失|贬值|低效|无效|空转|"
    r"未[\u4e00-\u9fff]{1,4}(?=[，,。；;]|$)|"
    r"(?:未|没有|不)[\u4e00-\u9fff]{0,6}(?:到位|落实|执行|公开|上缴|入账|报批|审批|招标|备案|登记|履行)"
)

# The evaluative predicate a problem statement ends with (X不到位, X有差距, X流于形式): the topic X
# before it can take any other predicate (意识形态工作落实有差距 / 意识形态工作不到位), which is how the
# concept thesaurus derives topic anchors from its forms (nlp/concepts.py).
TRAILING_PREDICATE = re.compile(
    r"(?:不到位|不够有力|不够到位|不够|不力|不严格|不严|不规范|不健全|不完善|不充分|不足|有差距|有落差|有偏差|"
    r"有欠缺|有短板|欠缺|薄弱|缺失|缺位|滞后|不强|淡薄|弱化|虚化|淡化|流于形式|走过场|形式化|不深入|不深|"
    r"不实|不高|不全|不及时|不明显|不扎实|不彻底|不落实|乏力|松弛|混乱|较差|不重视|认识不足|意识不强)$"
)
# Verbs and nouns that join a topic to its predicate (落实不到位, 工作有差距) or open it (落实X不到位)
TOPIC_TAIL = re.compile(r"(?:落实|执行|贯彻|推进|开展|履行|工作|制度|情况)+$")
TOPIC_HEAD = re.compile(r"^(?:落实|执行|贯彻|履行|对)")

# An item that reads as a requirement, recommendation or plan, not a problem. Imperatives that never
# open a problem statement are rejected outright; verbs that also open problems ("持续推进…力度不够",
# "落实…不到位") are rejected only when their first clause names no deficiency.
MARKER_PREFIX = r"^(?:[一二三四五六七八九十]{1,3}是|[（(][一二三四五六七八九十0-9]{1,3}[）)]|\d{1,2}[.、．]|[①-⑳])?\s*"
IMPERATIVE = re.compile(
    MARKER_PREFIX
    + r"(?:要(?!求)|应当?|必须|务必|需要|建议|希望|把(?!关)|牢固树立|深挖)"
    r"|^[^，,。；：:]{0,30}(?:要求|强调|建议|希望|提出)[，,：:]"  # 巡察组要求，… / 组长强调：…
    r"|^[^。；]{0,40}表示[，,：:]"  # the unit's 表态: 书记…表示，将照单全收…
    r"|^(?:按照|根据|依据)[^。；]{0,40}(?:部署|安排|要求|规定)"  # background: 按照县委统一部署，…开展了巡察
    r"|^[^，,。；]{2,12}将(?:迅速|立即|认真|切实|全面|坚决|逐|持续|进一步|以|把)"  # plans: 局党组将迅速召开…
)
REQUIREMENT = re.compile(
    MARKER_PREFIX
    + r"(?:进一步|持续|不断|始终|严格执行|深化|加大|加强|强化|健全|完善|推动|推进|督促|认真|全面|积极|主动|及时|"
    r"夯实|创新|规范|提高|提升|突出|以|对照|针对|聚焦|围绕|坚持|着力|切实|确保|做到|努力|力争|筑牢|构建|扛起|压实|"
    r"立足|结合|统筹|注重|坚决)"
)
# A sentence in which the inspectors turn from what they found to what they ask ("巡察组建议，…要…",
# "要求…", "…要进一步…"): it ends the problem statement before it, never its detail.
ADVICE = re.compile(
    MARKER_PREFIX + r"(?:要(?!求)|应当?|必须|务必|建议|希望)"
    r"|^[^，,。；：:]{0,30}(?:要求|强调|建议|希望|提出)[，,：:]"
)
# An item that reports what was done about problems (整改, 查处, 移交) or states figures, not a problem.
ACTION = re.compile(
    r"(?:^|[，,：:])\s*(?:已|已经|先后|共|累计|截至目前|截止目前|目前)[\u4e00-\u9fff]{0,6}"
    r"(?:整改|完成|移交|移送|查处|处理|清退|追回|挽回|问责|约谈|通报|建立|完善|制定|召开|开展|销号|解决|收缴|处分)"
    r"|^(?:开展|组织开展|召开|出台|修订|印发|追回|取消|解除|暂停|清退|收回|建立健全)"
    r"|约谈了|严肃[^。；]{0,6}(?:问责|追责|处理)[。！]?$|推动(?:了)?[^。；]{0,80}(?:整改|解决)|被扣分|纳入[^。；]{0,20}考核"
    r"|^(?:对|针对)[^。；]{0,30}(?:要求|责令|督促|给予)|督促[^。；]{0,20}(?:清退|整改|退还)|排查[^。；]{0,20}(?:机构|单位|问题)"
)
PRAISE = re.compile(r"高度重视|做了大量工作|完成了(?:大部分|全部|绝大部分)|取得(?:了)?[^。；]{0,10}(?:成效|成果|进展|成绩)|较好完成|圆满完成|得到(?:进一步)?(?:强化|提高|提升|加强)|明显(?:提升|改善)|成效(?:明显|显著)")
LIST_HEADER = re.compile(r"(?:发现|存在|反映|梳理|指出)(?:了)?(?:一些|以下|如下|一批|[0-9一二三四五六七八九十]+个方面的?|的主要|主要)?[^。；]{0,30}问题(?:是|有|主要是|主要有|包括|如下)?\s*[:：]\s*$")
# A sentence that only announces problems ("也存在一些不容忽视的问题", "…等方面还存在短板", "…主要是").
GENERIC = re.compile(
    r"(?:存在|发现|暴露)(?:了|出)?(?:的)?(?:一些|一批|不少|部分|若干)[^。；]{0,12}(?:问题|差距|不足|短板)[^。；]{0,4}[。，,:：]?\s*$"
    r"|(?:等|几个)方面(?:还|仍|也)?(?:存在|有)(?:一些|不少)?(?:短板|不足|差距|问题|薄弱环节)[。]?\s*$"
    r"|(?:主要是|主要有|主要表现为|表现在)[:：]?\s*$"
)
# A category heading inside a paragraph: "（一）贯彻落实党的路线方针政策和党中央决策部署方面。"
CATEGORY = re.compile(r"^[^，,；;。]{2,40}(?:方面|情况)[。：:]?\s*$")
STATS_ONLY = re.compile(r"\d+(?:\.\d+)?\s*(?:个|件|人|条|项|次|家|万元|亿元|元|%|轮|名|户)")


def states_problem(text: str) -> bool:
    """True when ``text`` names a deficiency (不到位, 违规, 有差距, 存在…问题 …)."""
    return bool(PROBLEM_CUE.search(text))


def non_finding_reason(snippet: str, body: str, *, in_context: bool, enumerated: bool) -> str | None:
    """Why an item that may state a problem is still not a finding, or None when nothing speaks
    against it. ``body`` is the snippet without its enumeration marker."""
    if LIST_HEADER.search(snippet) or GENERIC.search(snippet) or CATEGORY.search(body):
        return "header"
    if re.search(r"[:：]\s*$", snippet) and not in_context:
        return "header"
    if IMPERATIVE.match(snippet) or (REQUIREMENT.match(snippet) and not starts_with_problem(body)):
        return "requirement"
    if not in_context and PRAISE.search(snippet) and not re.search(r"但|然而|不过", snippet):
        return "praise"
    if ACTION.search(snippet) and not enumerated:
        return "action"
    if stats_only(body):
        return "statistics"
    return None


def starts_with_problem(body: str) -> bool:
    """"落实…不到位" starts with 落实 but is a problem; a requirement names no deficiency in its first clause."""
    first = re.split(r"[，,；;。]", body, maxsplit=1)[0]
    return bool(PROBLEM_CUE.search(first)) and not re.match(r"^(?:要|应|必须|务必|建议|希望)", body)


def gives_advice(sentence: str) -> bool:
    """True for a requirement or recommendation that names no deficiency in its first clause."""
    body = sentence.lstrip(" \t\n\u3000")
    first = re.split(r"[，,；;。]", re.sub(ADVICE, "", body, count=1), maxsplit=1)[0]
    return bool(ADVICE.match(body)) and not PROBLEM_CUE.search(first)


def stats_only(body: str) -> bool:
    """A sentence of figures (共发现问题129个，已整改127个) whose words count work done, not a deficiency."""
    numbers = len(STATS_ONLY.findall(body))
    if numbers < 1 or not COUNTING.search(body):
        return False
    cue_hits = [m.group(0) for m in PROBLEM_CUE.finditer(body)]
    weak = {"较多", "没有"}
    return all(h in weak for h in cue_hits) or numbers >= 3 and len(cue_hits) <= 1


COUNTING = re.compile(r"发现|反馈|整改|移交|移送|查处|处分|建立|完善|召开|开展|完成|共计?|累计|覆盖|巡察了|销号")
